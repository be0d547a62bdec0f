/**
 * Review of the Kratos mount's purge rule: a credential must not reach the identity server in
 * a form the gateway does not read. The embedded identity server is the IdP here, and every
 * case below is one it accepts: a `session_token` in a form-urlencoded or BOM-prefixed JSON
 * body (express.urlencoded / body-parser strips the BOM), and `Authorization: Bearer<TAB>`.
 * After each, the revoked token must be rejected by the gateway on the very next request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { sessionTokensInBody } from '../../../src/gateway/kratos-mount/body-tokens.js';
import { closeServer, listenOnFreePort, rawRequest, startTestGateway } from '../../helpers/servers.js';
import { registerWithApi } from '../identity/helpers.js';
import { startEmbeddedMount } from './embedded-mount.js';

const PASSWORD = 'correct horse battery staple 9';

describe('Kratos mount: credentials the identity server reads are the ones the gateway purges', () => {
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let close: () => Promise<void>;

  before(async () => {
    ({ gw, close } = await startEmbeddedMount('mount-smuggling'));
  });
  after(() => close());

  const mount = () => gw.proxyUrl + '/.ory/kratos/public';

  const registerApi = (email: string) => registerWithApi(mount(), email, PASSWORD);

  async function gatewayStatus(token: string): Promise<number> {
    const res = await request(gw.proxyUrl + '/app', { headers: { accept: 'application/json', 'x-session-token': token } });
    await res.body.dump();
    return res.statusCode;
  }

  async function identityServerStatus(token: string): Promise<number> {
    const res = await request(gw.kratosPublicUrl + '/sessions/whoami', { headers: { 'x-session-token': token } });
    await res.body.dump();
    return res.statusCode;
  }

  /** Caches the token at the gateway, runs `revoke`, and requires both sides to agree afterwards. */
  async function assertRevocationSeen(label: string, revoke: (token: string) => Promise<void>): Promise<void> {
    const token = await registerApi(`${label}-${Date.now()}@example.com`);
    assert.equal(await gatewayStatus(token), 200, 'cached as a valid session');
    await revoke(token);
    const truth = await identityServerStatus(token);
    assert.equal(await gatewayStatus(token), truth, `${label}: the gateway disagrees with the identity server (${truth})`);
  }

  test('DELETE /sessions with a form-urlencoded session_token', async () => {
    await assertRevocationSeen('form', async (token) => {
      const res = await request(mount() + '/sessions', {
        method: 'DELETE',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `session_token=${encodeURIComponent(token)}`,
      });
      await res.body.dump();
    });
  });

  test('DELETE /sessions with a BOM-prefixed JSON body', async () => {
    await assertRevocationSeen('bom', async (token) => {
      const res = await request(mount() + '/sessions', {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: '\uFEFF' + JSON.stringify({ session_token: token }),
      });
      await res.body.dump();
    });
  });

  test('DELETE /sessions with a UTF-16 JSON body is refused or purged', async () => {
    await assertRevocationSeen('utf16', async (token) => {
      const res = await request(mount() + '/sessions', {
        method: 'DELETE',
        headers: { 'content-type': 'application/json; charset=utf-16le' },
        body: Buffer.from(JSON.stringify({ session_token: token }), 'utf16le'),
      });
      await res.body.dump();
    });
  });

  test('DELETE /sessions with a gzip-compressed JSON body is refused or purged', async () => {
    await assertRevocationSeen('gzip', async (token) => {
      const res = await request(mount() + '/sessions', {
        method: 'DELETE',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ session_token: token })),
      });
      await res.body.dump();
    });
  });

  test('logout with "Authorization: Bearer<TAB>token"', async () => {
    await assertRevocationSeen('tab', async (token) => {
      const url = new URL(mount());
      await rawRequest(gw.proxyUrl, [
        `GET ${url.pathname}/self-service/browser/flows/logout HTTP/1.1`,
        `Host: ${url.host}`,
        `Authorization: Bearer\t${token}`,
        'Connection: close',
      ]);
    });
  });
});

test("a body session_token is found under every name Go's encoding/json would match (Kratos)", () => {
  const json = (o: string) => sessionTokensInBody(Buffer.from(o), { 'content-type': 'application/json' });
  assert.deepEqual(json('{"SESSION_TOKEN":"a"}'), ['a']);
  assert.deepEqual(json('{"\u017feSSion_to\u212Aen":"b"}'), ['b']);
  assert.deepEqual(json('{"session_token":"c","Session_Token":"d"}'), ['c', 'd']);
  assert.equal(sessionTokensInBody(Buffer.from('--x'), { 'content-type': 'multipart/form-data; boundary=x' }), 'unscannable');
});

test('the identity server behind the mount is sent only the credentials the gateway read', async () => {
  const received: IncomingHttpHeaders[] = [];
  const idp = createServer((req, res) => {
    if (!req.url?.startsWith('/sessions/whoami')) received.push(req.headers);
    res.writeHead(req.url?.startsWith('/sessions/whoami') ? 401 : 204);
    res.end();
  });
  const idpUrl = await listenOnFreePort(idp);
  const gw = await startTestGateway({
    kratos: { public_url: idpUrl },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required', on_unauthenticated: 'json' }],
  });
  try {
    const host = new URL(gw.proxyUrl).host;
    await rawRequest(gw.proxyUrl, [
      'GET /.ory/kratos/public/self-service/logout?token=x HTTP/1.1',
      `Host: ${host}`,
      // Go's Header.Get reads the first of these; Node joins them into one unreadable value.
      'X-Session-Token: tokenA',
      'X-Session-Token: tokenB',
      'Authorization: Bearer\ttokenC',
      'Cookie: csrf_token=c1; ory_kratos_session=tokenD',
      'Cookie: ory_kratos_session=tokenE',
      'Connection: close',
    ]);
    assert.equal(received.length, 1);
    const h = received[0]!;
    assert.equal(h['x-session-token'], undefined, 'an X-Session-Token the gateway could not read is not forwarded');
    assert.equal(h.authorization, undefined, 'an Authorization the gateway could not read is not forwarded');
    assert.equal(h.cookie, 'csrf_token=c1; ory_kratos_session=tokenD', 'only the session cookie the gateway read, once');
  } finally {
    await gw.shutdown();
    await closeServer(idp);
  }
});
