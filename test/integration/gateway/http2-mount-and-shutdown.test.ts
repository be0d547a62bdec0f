/**
 * HTTP/2 on the control plane and at shutdown: a logout through the Kratos mount over HTTP/2
 * purges the cached session before its answer reaches the client, and a request body framed by
 * HTTP/2 alone (no content-length) reaches Kratos; on shutdown every HTTP/2
 * connection is sent GOAWAY and the stream in flight still finishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnFreePort, startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import type { ClientHttp2Session } from 'node:http2';
import { h2Connect, h2Request } from '../../helpers/h2.js';

type FakeKratos = Awaited<ReturnType<typeof startFakeKratos>>;

/**
 * A gateway on an echo upstream (route `app`, session required) whose Kratos is `front` in
 * front of the whoami fake: `front` answers what it knows (true), the fake the rest.
 */
async function withMountedKratos(
  front: (kratos: FakeKratos, req: IncomingMessage, res: ServerResponse) => boolean,
  body: (kratos: FakeKratos, session: ClientHttp2Session) => Promise<void>,
): Promise<void> {
  const upstream = await startEchoUpstream();
  const kratos = await startFakeKratos();
  const server = createServer((req, res) => {
    if (front(kratos, req, res)) return;
    fetch(kratos.url + req.url, { headers: req.headers as Record<string, string> }).then(
      async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      },
      () => res.writeHead(502).end(),
    );
  });
  const frontUrl = await listenOnFreePort(server);
  const gw = await startTestGateway({
    kratos: { public_url: frontUrl },
    session_cache: { ttl_cap_ms: 600_000 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
  });
  const session = await h2Connect(gw.proxyUrl);
  try {
    await body(kratos, session);
  } finally {
    session.close();
    await gw.shutdown();
    await closeServer(server);
    await upstream.close();
    await kratos.close();
  }
}

test('a logout through the Kratos mount over HTTP/2 purges the cached session', async () => {
  // Kratos's browser logout: it revokes the cookie's session.
  const front = (kratos: FakeKratos, req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/self-service/browser/flows/logout')) return false;
    const token = /ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const s = token === undefined ? undefined : kratos.sessions.get(token);
    if (s) s.active = false;
    res.writeHead(302, { location: 'http://127.0.0.1/after-logout', 'content-length': 0 }).end();
    return true;
  };
  await withMountedKratos(front, async (kratos, session) => {
    const s = kratos.addSession();
    const cookie = `ory_kratos_session=${s.token}`;
    assert.equal((await h2Request(session, { ':path': '/app', cookie, accept: 'application/json' })).status, 200);
    // Cached now: without the purge the next request would be served from the cache.
    const logout = await h2Request(session, {
      ':path': '/.ory/kratos/public/self-service/browser/flows/logout',
      cookie,
      accept: 'text/html',
    });
    assert.equal(logout.status, 302);
    assert.equal(logout.headers.location, 'http://127.0.0.1/after-logout');
    assert.equal((await h2Request(session, { ':path': '/app', cookie, accept: 'application/json' })).status, 401);
  });
});

test('on shutdown HTTP/2 clients get GOAWAY, and the stream in flight finishes', async () => {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const seen: string[] = [];
  const upstream = createServer((req, res) => {
    seen.push(req.url ?? '');
    held.push(res);
    arrived();
  });
  const upstreamUrl = await listenOnFreePort(upstream);
  const kratos = await startFakeKratos();
  const gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    proxy: { shutdown_grace_ms: 60_000 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstreamUrl, auth: 'anonymous' }],
  });
  const session = await h2Connect(gw.proxyUrl);
  const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
  const response = h2Request(session, { ':path': '/in-flight' });
  await inFlight;

  const stopped = gw.shutdown();
  await goaway;
  // The session will take no new stream; nothing new reaches the upstream.
  const after = await h2Request(session, { ':path': '/after-goaway' }).catch((err: Error) => err);
  assert.ok(after instanceof Error || after.status === 0, `a stream opened after GOAWAY was answered ${JSON.stringify(after)}`);
  held[0]!.end('finished');
  const res = await response;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'finished');
  await stopped;
  assert.deepEqual(seen, ['/in-flight']);
  await closeServer(upstream);
  await kratos.close();
});

test('the self-service UI answers over HTTP/2 as over HTTP/1.1', async () => {
  const kratos = await startFakeKratos();
  const gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    ui: { enabled: true },
    routes: [{ name: 'app', match: { path_prefix: '/app' }, upstream: 'http://127.0.0.1:9' }],
  });
  const session = await h2Connect(gw.proxyUrl);
  try {
    const css = await h2Request(session, { ':path': '/ui/style.css', accept: 'text/css' });
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.ok(css.body.length > 0);
    const page = await h2Request(session, { ':path': '/ui/sign-in', accept: 'text/html' });
    assert.equal(page.status, 404);
    assert.match(page.body, /<h1>Page not found<\/h1>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'none'/);
    const login = await h2Request(session, { ':path': '/ui/login', accept: 'text/html' });
    const h1 = await fetch(gw.proxyUrl + '/ui/login', { headers: { accept: 'text/html' }, redirect: 'manual' });
    await h1.arrayBuffer();
    assert.equal(login.status, h1.status);
    assert.equal(login.headers.location, h1.headers.get('location') ?? undefined);
  } finally {
    session.close();
    await gw.shutdown();
    await kratos.close();
  }
});

test('a request body without content-length reaches Kratos through the mount over HTTP/2, and the token it names is purged', async () => {
  // Kratos's API logout: it revokes the session token the JSON body names.
  const bodies: string[] = [];
  const front = (kratos: FakeKratos, req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/self-service/logout/api') return false;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      const token = body === '' ? undefined : (JSON.parse(body) as { session_token?: string }).session_token;
      const s = token === undefined ? undefined : kratos.sessions.get(token);
      if (s) s.active = false;
      res.writeHead(s ? 204 : 400).end();
    });
    return true;
  };
  await withMountedKratos(front, async (kratos, session) => {
    const s = kratos.addSession();
    assert.equal((await h2Request(session, { ':path': '/app', 'x-session-token': s.token })).status, 200);
    // HTTP/2 frames the body by DATA frames and END_STREAM: content-length is optional (RFC 9113 §8.1.1).
    const body = JSON.stringify({ session_token: s.token });
    const logout = await h2Request(
      session,
      { ':method': 'DELETE', ':path': '/.ory/kratos/public/self-service/logout/api', 'content-type': 'application/json' },
      body,
    );
    assert.deepEqual(bodies, [body]);
    assert.equal(logout.status, 204);
    assert.equal((await h2Request(session, { ':path': '/app', 'x-session-token': s.token })).status, 401);
  });
});
