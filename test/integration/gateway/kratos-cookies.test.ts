/**
 * Review: no Kratos-owned cookie reaches an upstream application — neither the
 * session cookie nor the CSRF cookie of any Kratos version — over HTTP and over the WebSocket
 * handshake, while the application's own cookies (look-alike names included) arrive intact.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'undici';
import WebSocket from 'ws';
import { startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;
let token: string;

const V06_CSRF = `${Buffer.from('http://127.0.0.1:4455/.ory/kratos/public/').toString('base64url')}_csrf_token`;
const V1_CSRF = `csrf_token_${'5e'.repeat(32)}`;
const APP_COOKIES = 'theme=dark; csrf_tokenx=mine; app_csrf_token=mine2; csrftoken=django';

before(async () => {
  stack = await startStack((u) => ({
    routes: [
      { name: 'app', match: { path_prefix: '/app' }, upstream: u.upstream, auth: 'required' },
      { name: 'public', match: { path_prefix: '/public' }, upstream: u.upstream, auth: 'anonymous' },
    ],
  }));
  ({ token } = stack.kratos.addSession());
});
after(() => stack.close());

function cookieHeader(): string {
  return `theme=dark; ory_kratos_session=${token}; csrf_token=v05; ${V06_CSRF}=secret06; csrf_tokenx=mine; ${V1_CSRF}=secret1; app_csrf_token=mine2; csrftoken=django`;
}

for (const path of ['/app/page', '/public/page']) {
  test(`HTTP ${path}: the upstream gets the application's cookies and no Kratos cookie`, async () => {
    const res = await request(stack.gw.proxyUrl + path, { headers: { cookie: cookieHeader() } });
    assert.equal(res.statusCode, 200);
    const echoed = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(echoed.headers.cookie, APP_COOKIES);
  });
}

test("WebSocket handshake: the upstream gets the application's cookies and no Kratos cookie", async () => {
  const ws = new WebSocket(stack.gw.proxyUrl.replace('http', 'ws') + '/app/ws', { headers: { cookie: cookieHeader() } });
  const [first] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  const echoed = JSON.parse(String(first)) as { identity: string | null; headers: Record<string, string> };
  assert.notEqual(echoed.identity, null, 'the handshake was authenticated by the session cookie');
  assert.equal(echoed.headers.cookie, APP_COOKIES);
});

test('with strip_credentials: false every cookie is forwarded (an upstream that talks to Kratos itself)', async () => {
  const s = await startStack((u) => ({
    proxy: { strip_credentials: false },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
  }));
  try {
    const res = await request(s.gw.proxyUrl + '/x', { headers: { cookie: cookieHeader() } });
    const echoed = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(echoed.headers.cookie, cookieHeader());
  } finally {
    await s.close();
  }
});
