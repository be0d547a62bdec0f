/**
 * A request through the Kratos mount that changes a session or an identity must
 * purge the gateway's cache however the path is spelled. The identity provider behind the
 * mount here is deliberately lenient (case-insensitive, trailing slashes ignored, HEAD served
 * like GET), as the embedded server used to be and as any IdP may be: the gateway cannot know
 * every spelling an IdP accepts, so everything not known to be read-only purges.
 *
 * Each test caches a credential first (a proxied request answers 200), sends one request
 * through the mount, and then checks that the gateway's view matches the IdP's.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request } from 'undici';
import { closeServer, listenOnFreePort, startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let idp: Server;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
/** Requests the lenient IdP received that were not whoami, as `METHOD path`. */
const seen: string[] = [];

function tokenOf(req: IncomingMessage): string | undefined {
  return (
    (req.headers['x-session-token'] as string | undefined) ??
    /ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ??
    /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
  );
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

before(async () => {
  upstream = await startEchoUpstream();
  kratos = await startFakeKratos();
  idp = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://idp');
      // Lenient routing: any case, any number of trailing slashes.
      const path = url.pathname.toLowerCase().replace(/\/+$/, '');
      const method = req.method ?? 'GET';
      if (path === '/sessions/whoami') {
        // The whoami fake counts and answers.
        const r = await fetch(kratos.url + '/sessions/whoami', { headers: req.headers as Record<string, string> });
        res.writeHead(r.status, Object.fromEntries(r.headers));
        return res.end(Buffer.from(await r.arrayBuffer()));
      }
      seen.push(`${method} ${url.pathname}`);
      const body = await bodyOf(req);
      const me = tokenOf(req);
      const session = me === undefined ? undefined : kratos.sessions.get(me);
      if ((method === 'GET' || method === 'HEAD') && path === '/self-service/browser/flows/logout') {
        if (session) session.active = false;
        res.writeHead(302, { location: 'http://idp/bye' });
        return res.end();
      }
      if (method === 'DELETE' && path === '/sessions') {
        const token = (JSON.parse(body || '{}') as { session_token?: string }).session_token;
        const s = token === undefined ? undefined : kratos.sessions.get(token);
        if (!s) {
          res.writeHead(404);
          return res.end();
        }
        s.active = false;
        res.writeHead(204);
        return res.end();
      }
      if (path === '/self-service/settings' && session && (method === 'POST' || method === 'GET')) {
        // POST carries new traits; GET resumes a paused update (the traits the test stored).
        const traits = method === 'POST' ? (JSON.parse(body) as { traits: Record<string, unknown> }).traits : pausedTraits;
        for (const s of kratos.sessions.values()) if (s.identityId === session.identityId) s.traits = traits;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{}');
      }
      if (path === '/boom') {
        // Fails after having revoked: a 5xx says nothing about what already happened.
        if (session) session.active = false;
        res.writeHead(500);
        return res.end();
      }
      res.writeHead(method === 'GET' || method === 'HEAD' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{}');
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  const idpUrl = await listenOnFreePort(idp);
  gw = await startTestGateway({
    kratos: { public_url: idpUrl },
    session_cache: { ttl_cap_ms: 600_000 },
    identity_headers: { 'X-User-Email': 'identity.traits.email' },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
  });
});
after(async () => {
  await gw.shutdown();
  await closeServer(idp);
  await upstream.close();
  await kratos.close();
});

let pausedTraits: Record<string, unknown> = {};

const mount = () => gw.proxyUrl + '/.ory/kratos/public';

async function app(headers: Record<string, string>): Promise<{ status: number; email: string | undefined }> {
  const r = await request(gw.proxyUrl + '/app', { headers: { accept: 'application/json', ...headers } });
  await r.body.dump();
  const email = upstream.received.at(-1)?.headers['x-user-email'];
  return { status: r.statusCode, email: r.statusCode === 200 ? (email as string | undefined) : undefined };
}

/** A session whose token is cached by the gateway (one proxied request answered 200). */
async function cachedSession(email = `u-${Math.random()}@example.com`) {
  const s = kratos.addSession({ traits: { email } });
  assert.equal((await app({ 'x-session-token': s.token })).status, 200);
  assert.equal((await app({ authorization: `Bearer ${s.token}` })).status, 200);
  return s;
}

async function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  const r = await request(mount() + path, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  await r.body.dump();
  return r.statusCode;
}

test('HEAD logout with a Bearer token purges the token before the response', async () => {
  const s = await cachedSession();
  assert.equal(await send('HEAD', '/self-service/browser/flows/logout', { authorization: `Bearer ${s.token}` }), 302);
  assert.equal((await app({ authorization: `Bearer ${s.token}` })).status, 401, 'the revoked token was still served from the cache');
  assert.equal((await app({ 'x-session-token': s.token })).status, 401);
});

test('logout with a trailing slash purges', async () => {
  const s = await cachedSession();
  assert.equal(await send('GET', '/self-service/browser/flows/logout/', { authorization: `Bearer ${s.token}` }), 302);
  assert.equal((await app({ authorization: `Bearer ${s.token}` })).status, 401);
});

test('logout spelled with a capital L purges', async () => {
  const s = await cachedSession();
  assert.equal(await send('GET', '/self-service/browser/flows/Logout', { authorization: `Bearer ${s.token}` }), 302);
  assert.equal((await app({ authorization: `Bearer ${s.token}` })).status, 401);
});

test('DELETE /SESSIONS with the token in the body purges it', async () => {
  const s = await cachedSession();
  assert.equal(await send('DELETE', '/SESSIONS', { 'content-type': 'application/json' }, JSON.stringify({ session_token: s.token })), 204);
  assert.equal((await app({ 'x-session-token': s.token })).status, 401, 'the revoked token was still served from the cache');
  assert.equal((await app({ authorization: `Bearer ${s.token}` })).status, 401);
});

test('POST /Self-Service/Settings: the changed traits reach the upstream on the next request', async () => {
  const s = await cachedSession('before@example.com');
  assert.equal((await app({ 'x-session-token': s.token })).email, 'before@example.com');
  const status = await send(
    'POST',
    '/Self-Service/Settings?flow=f',
    { 'x-session-token': s.token, 'content-type': 'application/json' },
    JSON.stringify({ method: 'profile', traits: { email: 'after@example.com' } }),
  );
  assert.equal(status, 200);
  assert.equal((await app({ 'x-session-token': s.token })).email, 'after@example.com', 'the old traits were still injected');
});

test('a settings update resumed with GET /self-service/settings?flow= purges the identity', async () => {
  const s = await cachedSession('paused-before@example.com');
  pausedTraits = { email: 'paused-after@example.com' };
  assert.equal(
    await send('GET', '/self-service/settings?flow=f', { cookie: `ory_kratos_session=${s.token}; ory_kratos_continuity=c` }),
    200,
  );
  assert.equal((await app({ 'x-session-token': s.token })).email, 'paused-after@example.com', 'the old traits were still injected');
});

test('an unknown request with a credential purges it: only known read-only operations keep the cache', async () => {
  const s = await cachedSession();
  const calls = kratos.state.calls;
  assert.equal(await send('GET', '/self-service/some-future-endpoint', { 'x-session-token': s.token }), 200);
  assert.equal((await app({ 'x-session-token': s.token })).status, 200);
  assert.equal(kratos.state.calls, calls + 1, 'the next request asked whoami again');
});

test('a 5xx from the IdP still purges: the failure may have come after the change', async () => {
  const s = await cachedSession();
  assert.equal(await send('GET', '/boom', { 'x-session-token': s.token }), 500);
  assert.equal((await app({ 'x-session-token': s.token })).status, 401);
});

test('read-only operations through the mount keep the cache (no extra whoami)', async () => {
  const s = await cachedSession();
  const readOnly = [
    ['GET', '/sessions/whoami'],
    ['HEAD', '/sessions/whoami'],
    ['GET', '/self-service/login/flows?id=00000000-0000-4000-8000-000000000000'],
    ['GET', '/self-service/settings/flows?id=00000000-0000-4000-8000-000000000000'],
    ['GET', '/self-service/registration/browser'],
    ['GET', '/self-service/login/api?refresh=true'],
    ['GET', '/self-service/recovery/api'],
    ['GET', '/self-service/verification/browser'],
    ['GET', '/schemas/default'],
    ['GET', '/self-service/errors?error=stub:500'],
    ['GET', '/health/ready'],
    // Spellings that canonicalize onto a read-only operation are read-only too.
    ['GET', '/Self-Service/Login/Flows/?id=x'],
  ] as const;
  for (const [method, path] of readOnly) {
    const before = kratos.state.calls;
    await send(method, path, { 'x-session-token': s.token });
    const forwardedWhoami = path.toLowerCase().startsWith('/sessions/whoami') ? 1 : 0;
    assert.equal((await app({ 'x-session-token': s.token })).status, 200);
    assert.equal(kratos.state.calls, before + forwardedWhoami, `${method} ${path} purged the cache`);
  }
});

test('a read-only path with an unsafe method purges', async () => {
  const s = await cachedSession();
  const before = kratos.state.calls;
  await send('POST', '/self-service/login/flows?id=x', { 'x-session-token': s.token });
  assert.equal((await app({ 'x-session-token': s.token })).status, 200);
  assert.equal(kratos.state.calls, before + 1);
});
