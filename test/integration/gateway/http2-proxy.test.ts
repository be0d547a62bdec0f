/**
 * HTTP/2 with prior knowledge (h2c) on the proxy port, through the one evaluation to an
 * HTTP/1.1 upstream: the same authentication, header hygiene, policies and path rules as
 * HTTP/1.1, and the protocol in the metrics and the access line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { request } from 'undici';
import { startStack, type EchoRecord, type Stack } from '../../helpers/servers.js';
import { h2Connect, h2Request } from '../../helpers/h2.js';

describe('h2c through the gateway to an HTTP/1.1 upstream', () => {
  let stack: Stack;
  let session: ClientHttp2Session;

  before(async () => {
    stack = await startStack((u) => ({
      identity_headers: { 'X-User-Email': 'identity.traits.email' },
      routes: [
        { name: 'anon', match: { path_prefix: '/public' }, upstream: u.upstream, auth: 'anonymous', strip_prefix: '/public' },
        {
          name: 'admin',
          match: { path_prefix: '/admin' },
          upstream: u.upstream,
          auth: 'required',
          policy: { path: 'identity.traits.email', equals: 'boss@example.com' },
        },
        { name: 'api', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' },
      ],
    }));
    session = await h2Connect(stack.gw.proxyUrl);
  });
  after(async () => {
    session.close();
    await stack.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => h2Request(session, { ':path': path, ...headers });

  test('an anonymous route is forwarded, with :path and :authority as the HTTP/1.1 target and host', async () => {
    const res = await get('/public/a/b?x=1', { 'x-custom': 'kept' });
    assert.equal(res.status, 200);
    const seen = res.json<EchoRecord>();
    assert.equal(seen.url, '/a/b?x=1');
    assert.equal(seen.headers.host, new URL(stack.gw.proxyUrl).host);
    assert.equal(seen.headers['x-custom'], 'kept');
    for (const name of Object.keys(seen.headers)) assert.ok(!name.startsWith(':'), `pseudo-header ${name} was sent upstream`);
    assert.ok(typeof res.headers['x-request-id'] === 'string');
  });

  test('a request body streams to the upstream and the response body back', async () => {
    const body = 'x'.repeat(200_000);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/public/upload', 'content-type': 'text/plain' }, body);
    assert.equal(res.status, 200);
    assert.equal(res.json<EchoRecord>().body.length, body.length);
  });

  test('a protected route: no session is 401, a real session reaches the upstream as that identity without its credential', async () => {
    const none = await get('/orders');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate']?.includes('Bearer'), true);

    const s = stack.kratos.addSession({ traits: { email: 'ada@example.com' } });
    const res = await get('/orders', {
      authorization: `Bearer ${s.token}`,
      cookie: 'theme=dark',
      // Spoofed identity: lower-case, as all HTTP/2 field names are.
      'x-kratos-authenticated-identity-id': 'spoofed',
      'x-user-email': 'spoofed@evil.test',
    });
    assert.equal(res.status, 200);
    const seen = res.json<EchoRecord>();
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(seen.headers['x-user-email'], 'ada@example.com');
    assert.equal(seen.headers.authorization, undefined, 'the bearer token that authenticated is not replayed upstream');
    assert.equal(seen.headers.cookie, 'theme=dark');
    assert.ok(!JSON.stringify(seen.headers).includes('spoofed'));
  });

  test('spoofed identity headers are stripped on an anonymous route too', async () => {
    const res = await get('/public/x', { 'x-kratos-authenticated-identity-id': 'spoofed', 'x-user-email': 'spoofed@evil.test' });
    const seen = res.json<EchoRecord>();
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], undefined);
    assert.equal(seen.headers['x-user-email'], undefined);
  });

  test('a route policy refuses over HTTP/2 as over HTTP/1.1', async () => {
    const s = stack.kratos.addSession({ traits: { email: 'ada@example.com' } });
    const refused = await get('/admin/panel', { 'x-session-token': s.token });
    assert.equal(refused.status, 403);
    const boss = stack.kratos.addSession({ traits: { email: 'boss@example.com' } });
    assert.equal((await get('/admin/panel', { 'x-session-token': boss.token })).status, 200);
  });

  test(':path is canonicalised like the HTTP/1.1 target: dot segments resolved, encoded slashes refused', async () => {
    const dots = await get('/public/a/../b/./c');
    assert.equal(dots.status, 200);
    assert.equal(dots.json<EchoRecord>().url, '/b/c');
    // /public/../admin would be the admin route once resolved; it is matched as resolved.
    const escape = await get('/public/../admin/panel');
    assert.equal(escape.status, 401);
    const before = stack.upstream.received.length;
    const encoded = await get('/public/a%2Fb');
    assert.equal(encoded.status, 400);
    assert.equal(stack.upstream.received.length, before, 'a refused path never reaches the upstream');
  });

  test(':authority and a different host header are refused', async () => {
    const res = await get('/public/x', { ':authority': new URL(stack.gw.proxyUrl).host, host: 'other.example' });
    assert.equal(res.status, 400);
  });

  test('traceparent is carried to the upstream', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await get('/public/t', { traceparent });
    assert.equal(res.json<EchoRecord>().headers.traceparent, traceparent);
  });

  test('metrics and the access line carry the protocol', async () => {
    await get('/public/metric-check');
    const text = await (await request(stack.gw.adminUrl + '/metrics')).body.text();
    assert.match(text, /kratos_gateway_requests_total\{route="anon",method="GET",status="200",protocol="h2c"\} \d+/);
    const line = stack.gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/public/metric-check');
    assert.equal(line?.protocol, 'h2c');
    // HTTP/1.1 alongside, on the same port.
    const h1 = await request(stack.gw.proxyUrl + '/public/h1');
    await h1.body.text();
    const h1line = stack.gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/public/h1');
    assert.equal(h1line?.protocol, 'http1');
  });
});
