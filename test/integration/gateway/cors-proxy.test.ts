/**
 * `routes[].cors` on the proxy, against a real gateway, a fake Kratos and a real upstream: the
 * gateway answers preflights itself (no upstream, no Kratos), and every other answer on the route
 * — the upstream's and the gateway's own refusals — carries the CORS headers for an allowed
 * origin only, with `Vary: Origin`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { closeServer, listenOnFreePort, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

describe('CORS on the proxy', () => {
  const received: Array<{ method: string; url: string }> = [];
  // An upstream with CORS headers and a Vary of its own.
  const upstream = createServer((req, res) => {
    received.push({ method: req.method!, url: req.url! });
    res.writeHead(200, {
      'content-type': 'text/plain',
      vary: 'Accept-Encoding',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'DELETE',
      'x-total-count': '3',
    });
    res.end('ok');
  });
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let token: string;

  before(async () => {
    const upstreamUrl = await listenOnFreePort(upstream);
    kratos = await startFakeKratos();
    const cors = {
      allowed_origins: [APP, 'https://*.example.org'],
      allowed_methods: ['GET', 'PUT', 'POST'],
      allowed_headers: ['Content-Type', 'X-Request-Id'],
      exposed_headers: ['X-Total-Count'],
      allow_credentials: true,
      max_age_s: 600,
    };
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      routes: [
        { name: 'api', match: { path_prefix: '/api' }, upstream: upstreamUrl, cors },
        // A method list: its preflights are the ones asking for its methods.
        {
          name: 'uploads',
          match: { path_prefix: '/uploads', methods: ['PUT'] },
          upstream: upstreamUrl,
          cors: { ...cors, allowed_methods: ['PUT'] },
        },
        { name: 'plain', match: { path_prefix: '/plain' }, upstream: upstreamUrl },
      ],
    });
    token = kratos.addSession().token;
  });
  after(async () => {
    await gw.shutdown();
    await closeServer(upstream);
    await kratos.close();
  });

  async function send(method: string, path: string, headers: Record<string, string>) {
    const res = await request(gw.proxyUrl + path, { method: method as 'GET', headers });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  }
  const preflight = (path: string, origin: string, method: string, requestHeaders?: string) =>
    send('OPTIONS', path, {
      origin,
      'access-control-request-method': method,
      ...(requestHeaders === undefined ? {} : { 'access-control-request-headers': requestHeaders }),
    });
  const CORS_NAMES = [
    'access-control-allow-origin',
    'access-control-allow-methods',
    'access-control-allow-headers',
    'access-control-allow-credentials',
  ];
  function assertNoCors(h: IncomingHttpHeaders, what: string) {
    for (const name of CORS_NAMES) assert.equal(h[name], undefined, `${what}: ${name}`);
  }

  test('an allowed preflight is answered by the gateway: no upstream, no Kratos', async () => {
    const upstreamBefore = received.length;
    const kratosBefore = kratos.state.calls;
    const r = await preflight('/api/items/1', APP, 'PUT', 'content-type,x-request-id');
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, POST');
    assert.equal(r.headers['access-control-allow-headers'], 'Content-Type, X-Request-Id');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(received.length, upstreamBefore, 'the upstream saw the preflight');
    assert.equal(kratos.state.calls, kratosBefore, 'Kratos was asked about the preflight');
  });

  test('a wildcard origin matches one label', async () => {
    assert.equal(
      (await preflight('/api/x', 'https://shop.example.org', 'GET')).headers['access-control-allow-origin'],
      'https://shop.example.org',
    );
    assertNoCors((await preflight('/api/x', 'https://a.shop.example.org', 'GET')).headers, 'two labels');
    assertNoCors((await preflight('/api/x', 'https://example.org', 'GET')).headers, 'no label');
  });

  test('a disallowed origin, method or header gets a preflight answer without the allow headers, still without the upstream', async () => {
    const upstreamBefore = received.length;
    for (const [origin, method, hdrs, what] of [
      [EVIL, 'PUT', undefined, 'origin'],
      ['null', 'GET', undefined, 'null origin'],
      [APP, 'DELETE', undefined, 'method'],
      [APP, 'put', undefined, 'method in lower case'],
      [APP, 'PUT', 'content-type,authorization', 'header'],
    ] as const) {
      const r = await preflight('/api/x', origin, method, hdrs);
      assert.equal(r.status, 204, what);
      assertNoCors(r.headers, what);
      assert.match(String(r.headers.vary), /^Origin, /, what);
    }
    assert.equal(received.length, upstreamBefore);
  });

  test('the preflight is judged for the route of the requested method', async () => {
    const r = await preflight('/uploads/a', APP, 'PUT');
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-methods'], 'PUT');
    // No route serves GET /uploads: the OPTIONS is an ordinary request, matching no route.
    assert.equal((await preflight('/uploads/a', APP, 'GET')).status, 404);
  });

  test('an OPTIONS without both headers, or on a route without cors, is an ordinary request: authentication applies', async () => {
    const r = await send('OPTIONS', '/api/x', { origin: APP, accept: 'application/json' });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal((await send('OPTIONS', '/api/x', { 'access-control-request-method': 'GET', accept: 'application/json' })).status, 401);
    const plain = await preflight('/plain/x', APP, 'GET');
    assert.equal(plain.status, 401);
    assertNoCors(plain.headers, 'route without cors');
    assert.equal(plain.headers.vary, undefined);
  });

  test("the gateway's 401 carries the CORS headers for an allowed origin, none for a disallowed one", async () => {
    const allowed = await send('GET', '/api/me', { origin: APP, accept: 'application/json' });
    assert.equal(allowed.status, 401);
    assert.equal(allowed.headers['access-control-allow-origin'], APP);
    assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
    assert.equal(allowed.headers['access-control-expose-headers'], 'X-Total-Count');
    assert.equal(allowed.headers.vary, 'Origin');
    assert.ok(allowed.headers['www-authenticate']);
    const refused = await send('GET', '/api/me', { origin: EVIL, accept: 'application/json' });
    assert.equal(refused.status, 401);
    assertNoCors(refused.headers, 'disallowed origin');
    assert.equal(refused.headers['access-control-expose-headers'], undefined);
    assert.equal(refused.headers.vary, 'Origin', 'the answer depends on Origin either way');
  });

  test('the login redirect and the fail-closed 503 and 429 carry them too', async () => {
    const redirect = await send('GET', '/api/page', { origin: APP, accept: 'text/html' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers['access-control-allow-origin'], APP);
    try {
      kratos.state.fault = { kind: 'status', status: 500 };
      const down = await send('GET', '/api/me', { origin: APP, 'x-session-token': kratos.addSession().token });
      assert.equal(down.status, 503);
      assert.equal(down.headers['access-control-allow-origin'], APP);
      kratos.state.fault = { kind: 'status', status: 429, headers: { 'retry-after': '2' } };
      const limited = await send('GET', '/api/me', { origin: APP, 'x-session-token': kratos.addSession().token });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['access-control-allow-origin'], APP);
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
  });

  test("the upstream's answer gets the route's CORS headers in place of its own, and Origin added to its Vary", async () => {
    const r = await send('GET', '/api/items', { origin: APP, 'x-session-token': token });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-expose-headers'], 'X-Total-Count');
    assert.equal(r.headers['access-control-allow-methods'], undefined, "the upstream's own CORS header reached the client");
    assert.equal(r.headers.vary, 'Accept-Encoding, Origin');
    assert.equal(r.headers['x-total-count'], '3');

    const evil = await send('GET', '/api/items', { origin: EVIL, 'x-session-token': token });
    assert.equal(evil.status, 200);
    assertNoCors(evil.headers, "disallowed origin (the upstream's '*' included)");
    assert.equal(evil.headers.vary, 'Accept-Encoding, Origin');

    // A route without cors passes the upstream's headers through untouched.
    const plain = await send('GET', '/plain/items', { origin: EVIL, 'x-session-token': token });
    assert.equal(plain.headers['access-control-allow-origin'], '*');
    assert.equal(plain.headers.vary, 'Accept-Encoding');
  });
});
