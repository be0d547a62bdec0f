/**
 * Review: an untrusted client can never set forwarding headers the upstream believes —
 * including the `_` spellings that CGI/WSGI/PHP (HTTP_X_FORWARDED_HOST) and many frameworks
 * read as the `-` ones (oauth2-proxy CVE-2025-64484 is this class of bug for identity headers).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startEchoUpstream, startTestGateway, startStack } from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let close: () => Promise<void>;

before(async () => {
  ({ upstream, gw, close } = await startStack((u) => ({
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
  })));
});
after(() => close());

test('control: dash-spelled X-Forwarded-* from an untrusted client are replaced', async () => {
  await rawRequest(gw.proxyUrl, [
    'GET /x HTTP/1.1',
    'Host: app.test',
    'X-Forwarded-Host: evil.example',
    'X-Forwarded-Prefix: /evil',
    'X-Real-IP: 6.6.6.6',
    'Connection: close',
  ]);
  const h = upstream.received.at(-1)!.headers;
  assert.equal(h['x-forwarded-host'], 'app.test');
  assert.equal(h['x-forwarded-prefix'], undefined);
  assert.equal(h['x-real-ip'], undefined);
});

for (const name of ['X_Forwarded_Host', 'X_Forwarded_For', 'X_Forwarded_Proto', 'X_Forwarded_Prefix', 'X_Real_IP', 'X-Forwarded_Host']) {
  test(`an untrusted client's ${name} never reaches the upstream`, async () => {
    await rawRequest(gw.proxyUrl, ['GET /x HTTP/1.1', 'Host: app.test', `${name}: evil.example`, 'Connection: close']);
    const h = upstream.received.at(-1)!.headers;
    const leaked = Object.keys(h)
      .filter((k) => k.replaceAll('_', '-').startsWith('x-forwarded-') || k.replaceAll('_', '-') === 'x-real-ip')
      .filter((k) => h[k] === 'evil.example');
    assert.deepEqual(leaked, [], `forwarded: ${leaked.map((k) => `${k}: ${h[k]}`).join(', ')}`);
  });
}
