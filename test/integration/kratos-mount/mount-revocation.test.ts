/**
 * Review: every session revocation Kratos v1 offers on its public API, when it passes through
 * the mount, stops the revoked session from being served from the cache on the very next
 * request. Kratos v1 public API:
 *   DELETE /sessions/{id}  (disableMySession: revoke one of my other sessions)
 *   DELETE /sessions       (disableMyOtherSessions: revoke all my sessions except this one)
 * The fake Kratos below serves those two on top of the helpers' whoami fake.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { closeServer, listenOnFreePort, startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let front: Server;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

before(async () => {
  upstream = await startEchoUpstream();
  kratos = await startFakeKratos();
  // Kratos v1 session-management endpoints in front of the whoami fake.
  front = createServer((req, res) => {
    const token = req.headers['x-session-token'] as string | undefined;
    const me = token === undefined ? undefined : kratos.sessions.get(token);
    if (req.method === 'DELETE' && req.url?.startsWith('/sessions')) {
      if (!me || me.active === false) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"error":{"code":401}}');
      }
      const id = req.url === '/sessions' ? undefined : decodeURIComponent(req.url.slice('/sessions/'.length));
      let count = 0;
      for (const s of kratos.sessions.values()) {
        if (s.identityId !== me.identityId || s === me) continue;
        if (id === undefined || s.sessionId === id) {
          s.active = false;
          count++;
        }
      }
      if (id === undefined) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ count }));
      }
      res.writeHead(count === 1 ? 204 : 400);
      return res.end();
    }
    // Everything else (whoami) goes to the whoami fake.
    fetch(kratos.url + req.url, { method: req.method, headers: req.headers as Record<string, string> }).then(
      async (r) => {
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(Buffer.from(await r.arrayBuffer()));
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  const frontUrl = await listenOnFreePort(front);
  gw = await startTestGateway({
    kratos: { public_url: frontUrl },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
  });
});
after(async () => {
  await gw.shutdown();
  await closeServer(front);
  await upstream.close();
  await kratos.close();
});

function twoSessionsOfOneIdentity() {
  const laptop = kratos.addSession({ sessionId: `s-laptop-${Math.random()}` });
  const phone = kratos.addSession({ identityId: laptop.identityId, sessionId: `s-phone-${Math.random()}` });
  return { laptop, phone, phoneSessionId: kratos.sessions.get(phone.token)!.sessionId! };
}

async function appStatus(token: string): Promise<number> {
  const r = await fetch(gw.proxyUrl + '/app', { headers: { 'x-session-token': token, accept: 'application/json' } });
  await r.arrayBuffer();
  return r.status;
}

test('DELETE /sessions/{id} through the mount: the revoked session is rejected on the next request', async () => {
  const { laptop, phone, phoneSessionId } = twoSessionsOfOneIdentity();
  assert.equal(await appStatus(phone.token), 200); // now cached

  const r = await fetch(`${gw.proxyUrl}/.ory/kratos/public/sessions/${encodeURIComponent(phoneSessionId)}`, {
    method: 'DELETE',
    headers: { 'x-session-token': laptop.token },
  });
  await r.arrayBuffer();
  assert.equal(r.status, 204, 'Kratos revoked the phone session');

  assert.equal(await appStatus(phone.token), 401, 'the revoked phone session was still served from the cache');
});

test('DELETE /sessions (v1: revoke my other sessions) through the mount: the other sessions are rejected on the next request', async () => {
  const { laptop, phone } = twoSessionsOfOneIdentity();
  assert.equal(await appStatus(phone.token), 200); // now cached

  const r = await fetch(`${gw.proxyUrl}/.ory/kratos/public/sessions`, { method: 'DELETE', headers: { 'x-session-token': laptop.token } });
  assert.deepEqual(await r.json(), { count: 1 });

  assert.equal(await appStatus(phone.token), 401, 'the revoked phone session was still served from the cache');
});
