import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { rawRequest, startEchoUpstream, startFakeKratos, startTestGateway, type EchoRecord, startStack } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const SPOOFS = {
  'X-Kratos-Authenticated-Identity-Id': 'spoofed-id',
  x_kratos_authenticated_identity_id: 'spoofed-underscore',
  'X-KRATOS-SESSION-ID': 'spoofed-session',
  'X-User-Email': 'spoofed@evil.test',
  x_user_email: 'spoofed2@evil.test',
};

function spoofedValues(record: EchoRecord): string[] {
  const values: string[] = [];
  for (let i = 1; i < record.rawHeaders.length; i += 2) {
    const v = record.rawHeaders[i]!;
    if (v.startsWith('spoofed')) values.push(`${record.rawHeaders[i - 1]}: ${v}`);
  }
  return values;
}

describe('proxy: authentication, identity headers, spoof stripping', () => {
  let upstream: Echo;
  let kratos: Kratos;
  let gw: Gateway;
  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, kratos, gw, close } = await startStack((u) => ({
      identity_headers: {
        'X-User-Email': 'identity.traits.email',
        'X-Kratos-Session-Id': 'session.id',
        'X-User-Name': 'identity.traits.name.first',
      },
      routes: [
        { name: 'anon', match: { path_prefix: '/public' }, upstream: u.upstream, auth: 'anonymous', strip_prefix: '/public' },
        { name: 'opt', match: { path_prefix: '/maybe' }, upstream: u.upstream, auth: 'optional' },
        { name: 'api', match: { path_prefix: '/api' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'json' },
        { name: 'app', match: { path_prefix: '/' }, upstream: u.upstream + '/base', auth: 'required' },
      ],
    })));
  });
  after(() => close());

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await request(gw.proxyUrl + path, { headers });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as EchoRecord };
  }

  test('a valid session token reaches the upstream with the identity and mapped traits injected', async () => {
    const s = kratos.addSession({ traits: { email: 'ada@example.com', name: { first: 'Ada\r\nX-Evil: 1' } } });
    const res = await get('/orders?x=1', { 'x-session-token': s.token });
    assert.equal(res.status, 200);
    const seen = res.json();
    assert.equal(seen.url, '/base/orders?x=1');
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(seen.headers['x-user-email'], 'ada@example.com');
    assert.equal(seen.headers['x-kratos-session-id'], `session-${s.identityId}`);
    // CR/LF in a trait can never split into another header.
    assert.equal(seen.headers['x-user-name'], 'AdaX-Evil: 1');
    assert.equal(seen.headers['x-evil'], undefined);
  });

  test('bearer (any scheme case) and the session cookie authenticate too; only the Kratos cookie is removed upstream', async () => {
    const s = kratos.addSession();
    const bearer = await get('/x', { authorization: `bEaReR ${s.token}` });
    assert.equal(bearer.json().headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(bearer.json().headers.authorization, undefined, 'the bearer token that authenticated is not replayed upstream');

    const cookie = await get('/x', { cookie: `theme=dark; ory_kratos_session=${s.token}; lang=en` });
    const seen = cookie.json();
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(seen.headers.cookie, 'theme=dark; lang=en');
    // Kratos got only the credential, not the caller's other cookies.
    assert.equal(kratos.state.lastHeaders?.cookie, `ory_kratos_session=${s.token}`);
  });

  test('spoofed identity headers never reach the upstream on any route or outcome', async () => {
    const s = kratos.addSession({ traits: { email: 'real@example.com' } });
    const before = upstream.received.length;
    const cases: Array<[string, Record<string, string>]> = [
      ['/public/x', {}],
      ['/maybe/x', {}],
      ['/maybe/x', { 'x-session-token': 'not-a-session' }],
      ['/maybe/x', { 'x-session-token': s.token }],
      ['/x', { 'x-session-token': s.token }],
    ];
    for (const [path, headers] of cases) {
      const res = await get(path, { ...SPOOFS, ...headers });
      assert.equal(res.status, 200, path);
    }
    const records = upstream.received.slice(before);
    assert.equal(records.length, cases.length);
    for (const r of records) assert.deepEqual(spoofedValues(r), [], `spoofed header reached upstream for ${r.url}`);
    assert.equal(records[3]!.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(records[4]!.headers['x-user-email'], 'real@example.com');
    // Denied requests never reach the upstream at all.
    const denied = await get('/api/x', SPOOFS);
    assert.equal(denied.status, 401);
    assert.equal(upstream.received.length, before + cases.length);
  });

  test('Connection-listed names cannot remove the injected identity header', async () => {
    const s = kratos.addSession({ traits: { email: 'c@example.com' } });
    const before = upstream.received.length;
    const raw = await rawRequest(gw.proxyUrl, [
      'GET /x HTTP/1.1',
      'Host: 127.0.0.1',
      `X-Session-Token: ${s.token}`,
      'Connection: close, X-Kratos-Authenticated-Identity-Id, X-User-Email, x-forwarded-for, x-drop-me',
      'X-Drop-Me: 1',
    ]);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const seen = upstream.received[before]!;
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(seen.headers['x-user-email'], 'c@example.com');
    assert.equal(seen.headers['x-drop-me'], undefined);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('anonymous routes never call Kratos; optional routes pass without identity when the credential is invalid', async () => {
    const calls = kratos.state.calls;
    const anon = await get('/public/echo', { 'x-session-token': 'whatever' });
    assert.equal(anon.status, 200);
    assert.equal(anon.json().url, '/echo');
    assert.equal(kratos.state.calls, calls);
    const opt = await get('/maybe/thing', { 'x-session-token': 'bad-token-1' });
    assert.equal(opt.status, 200);
    assert.equal(opt.json().headers['x-kratos-authenticated-identity-id'], undefined);
    assert.equal(kratos.state.calls, calls + 1);
  });

  test('required routes: API clients get 401 JSON with a challenge; browsers are redirected to login with return_to', async () => {
    const api = await get('/x', { accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.match(String(api.headers['www-authenticate']), /^Bearer /);
    assert.deepEqual(JSON.parse(api.text), {
      error: { code: 401, status: 'Unauthorized', message: 'The request could not be authorized' },
    });

    const browser = await get('/a/./b/../c?q=1', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', host: 'evil.example' });
    assert.equal(browser.status, 302);
    const location = new URL(String(browser.headers.location));
    assert.equal(location.origin + location.pathname, 'http://127.0.0.1:4455/.ory/kratos/public/self-service/login/browser');
    // Built from the configured public URL and the canonical path, never from Host.
    assert.equal(location.searchParams.get('return_to'), 'http://127.0.0.1:4455/a/c?q=1');

    const forcedJson = await get('/api/x', { accept: 'text/html' });
    assert.equal(forcedJson.status, 401);
    const post = await request(gw.proxyUrl + '/x', { method: 'POST', headers: { accept: 'text/html' }, body: 'x' });
    assert.equal(post.statusCode, 401, 'a form POST is not a navigation to redirect');
    await post.body.dump();
  });

  test('the canonical path is what gets matched and forwarded; ambiguous paths are rejected', async () => {
    const s = kratos.addSession();
    const h = { 'x-session-token': s.token };
    const dots = await get('/public/../admin', {});
    assert.equal(dots.status, 401, '/public/../admin is /admin: a required route, not the anonymous one');
    const encodedDots = await get('/public/%2e%2e/admin', {});
    assert.equal(encodedDots.status, 401);
    const ok = await get('/public//%7Euser/./x/', {});
    assert.equal(ok.status, 200);
    assert.equal(ok.json().url, '/~user/x/');
    for (const bad of ['/public/a%2Fb', '/public/a%5cb', '/public/a%00', '/public/%zz']) {
      const res = await get(bad, h);
      assert.equal(res.status, 400, bad);
      assert.equal(JSON.parse(res.text).error.code, 400);
    }
  });

  test('X-Forwarded-* from an untrusted client are replaced, never passed on', async () => {
    const res = await get('/public/x', {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-prefix': '/admin',
      forwarded: 'for=6.6.6.6',
    });
    const seen = res.json();
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.notEqual(seen.headers['x-forwarded-host'], 'evil.example');
    assert.equal(seen.headers['x-forwarded-prefix'], undefined);
    assert.equal(seen.headers.forwarded, undefined);
    assert.match(String(seen.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['x-request-id'], seen.headers['x-request-id']);
  });

  test('no matching route is a 404 JSON error', async () => {
    const g2 = await startTestGateway({
      kratos: { public_url: kratos.url },
      routes: [{ name: 'only', match: { host: 'app.example', path_prefix: '/' }, upstream: upstream.url }],
    });
    try {
      const res = await request(g2.proxyUrl + '/x');
      assert.equal(res.statusCode, 404);
      assert.equal(((await res.body.json()) as { error: { code: number } }).error.code, 404);
    } finally {
      await g2.shutdown();
    }
  });
});
