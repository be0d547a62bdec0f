/**
 * `routes[].cors` in the decision API. A preflight (the original method OPTIONS, with `Origin`
 * and `Access-Control-Request-Method`) is allowed without Kratos, with the CORS headers for the
 * front door to copy back; every other answer on the route carries the route's CORS headers for
 * an allowed origin. The original method comes from Envoy's request line, or from
 * `X-Forwarded-Method` / `X-Original-Method`, which are believed only from a peer in
 * proxy.trusted_proxies (from any other they are a 400).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';

const APP = 'https://app.example.com';
const UPSTREAM = 'http://127.0.0.1:9';

describe('CORS in the decision API', () => {
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let trusting: Awaited<ReturnType<typeof startTestGateway>>;
  let distrusting: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    kratos = await startFakeKratos();
    const routes = [
      {
        name: 'api',
        match: { path_prefix: '/api' },
        upstream: UPSTREAM,
        cors: { allowed_origins: [APP], allowed_methods: ['GET', 'PUT'], exposed_headers: ['X-Total-Count'], allow_credentials: true },
      },
    ];
    trusting = await startTestGateway({ kratos: { public_url: kratos.url }, proxy: { trusted_proxies: ['127.0.0.1/32', '::1'] }, routes });
    // The test's loopback peer is not in this one's list.
    distrusting = await startTestGateway({ kratos: { public_url: kratos.url }, proxy: { trusted_proxies: ['10.0.0.0/8'] }, routes });
  });
  after(async () => {
    await trusting.shutdown();
    await distrusting.shutdown();
    await kratos.close();
  });

  async function decide(gw: typeof trusting, path: string, headers: Record<string, string>, method = 'GET') {
    const res = await request(gw.adminUrl + path, { method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }
  const asks = { origin: APP, 'access-control-request-method': 'PUT' };
  const traefik = (method: string) => ({ 'x-forwarded-method': method, 'x-forwarded-uri': '/api/items', 'x-forwarded-host': 'app.test' });
  const nginx = (method: string) => ({ 'x-original-method': method, 'x-original-uri': '/api/items', host: 'app.test' });

  function assertPreflightAllowed(r: { status: number; headers: Record<string, unknown> }, what: string) {
    assert.equal(r.status, 200, what);
    assert.equal(r.headers['access-control-allow-origin'], APP, what);
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT', what);
    assert.equal(r.headers['access-control-allow-credentials'], 'true', what);
    assert.match(String(r.headers.vary), /^Origin, Access-Control-Request-Method/, what);
    assert.equal(r.headers['x-kratos-authenticated-identity-id'], undefined, what);
  }

  test('a preflight named by a trusted proxy, or by Envoy, is allowed without asking Kratos', async () => {
    const before = kratos.state.calls;
    assertPreflightAllowed(await decide(trusting, '/decisions', { ...traefik('OPTIONS'), ...asks }), 'X-Forwarded-Method');
    assertPreflightAllowed(await decide(trusting, '/decisions', { ...nginx('OPTIONS'), ...asks }), 'X-Original-Method');
    assertPreflightAllowed(await decide(distrusting, '/decisions/api/items', asks, 'OPTIONS'), 'Envoy (request line)');
    assert.equal(kratos.state.calls, before);
  });

  test('from a peer outside trusted_proxies a method header makes no preflight: the request is a 400', async () => {
    // Neither X-Forwarded-* nor X-Original-* is believed from an untrusted peer, and neither is
    // ignored (that would judge the subrequest's GET): the decision is refused outright.
    for (const [form, headers] of [
      ['X-Forwarded-Method', traefik('OPTIONS')],
      ['X-Original-Method', nginx('OPTIONS')],
    ] as const) {
      const r = await decide(distrusting, '/decisions', { ...headers, ...asks, accept: 'application/json' });
      assert.equal(r.status, 400, form);
      assert.match(r.text, /proxy\.trusted_proxies/, form);
      assert.equal(r.headers['access-control-allow-methods'], undefined, form);
    }
  });

  test('a GET with preflight headers is not a preflight', async () => {
    const r = await decide(trusting, '/decisions', { ...traefik('GET'), ...asks, accept: 'application/json' });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-methods'], undefined);
  });

  test('refusals and allows carry the CORS headers for an allowed origin, none for another', async () => {
    const refused = await decide(trusting, '/decisions', { ...nginx('GET'), origin: APP, accept: 'application/json' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['access-control-allow-origin'], APP);
    assert.equal(refused.headers['access-control-allow-credentials'], 'true');
    assert.equal(refused.headers.vary, 'Origin');
    const browser = await decide(trusting, '/decisions', { ...nginx('GET'), origin: APP, accept: 'text/html' });
    assert.equal(browser.status, 401);
    assert.ok(browser.headers.location, 'the login URL');
    assert.equal(browser.headers['access-control-allow-origin'], APP);
    const other = await decide(trusting, '/decisions', { ...nginx('GET'), origin: 'https://evil.example', accept: 'application/json' });
    assert.equal(other.status, 401);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers.vary, 'Origin');

    const { token, identityId } = kratos.addSession();
    const allowed = await decide(trusting, '/decisions', { ...traefik('PUT'), origin: APP, 'x-session-token': token });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['x-kratos-authenticated-identity-id'], identityId);
    assert.equal(allowed.headers['access-control-allow-origin'], APP);
    assert.equal(allowed.headers['access-control-expose-headers'], 'X-Total-Count');
  });
});

describe('CORS in the decision API: the OPTIONS request of another route', () => {
  // After a 200 the front door sends the preflight on to the application. A preflight is asked
  // about the route of the requested method, but the OPTIONS itself may be another route's
  // request: that route's authentication decides it, or the allow would let an anonymous
  // OPTIONS (with any body) through to where the route table requires a session.
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    kratos = await startFakeKratos();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      routes: [
        {
          name: 'uploads',
          match: { host: 'app.test', path_prefix: '/uploads', methods: ['PUT'] },
          upstream: UPSTREAM,
          cors: { allowed_origins: [APP], allowed_methods: ['PUT'] },
        },
        { name: 'site', match: { host: 'app.test', path_prefix: '/' }, upstream: UPSTREAM, auth: 'required' },
        {
          name: 'media',
          match: { host: 'media.test', path_prefix: '/media', methods: ['PUT'] },
          upstream: UPSTREAM,
          cors: { allowed_origins: [APP], allowed_methods: ['PUT'] },
        },
        {
          name: 'media-read',
          match: { host: 'media.test', path_prefix: '/media', methods: ['GET'] },
          upstream: UPSTREAM,
          auth: 'required',
        },
      ],
    });
  });
  after(async () => {
    await gw.shutdown();
    await kratos.close();
  });

  const envoy = async (path: string, headers: Record<string, string>) => {
    const res = await request(gw.adminUrl + '/decisions' + path, {
      method: 'OPTIONS',
      headers: { accept: 'application/json', ...headers },
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  const asks = { origin: APP, 'access-control-request-method': 'PUT' };

  test("an OPTIONS that another route (here 'site', required) matches is judged by that route, not allowed as a preflight", async () => {
    const r = await envoy('/uploads/x', { ...asks, host: 'app.test' });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers['access-control-allow-methods'], undefined);
  });

  test('an OPTIONS that no route matches is allowed as the preflight of the route asked about', async () => {
    // media.test has routes for PUT and GET only: no route claims the OPTIONS itself.
    const r = await envoy('/media/x', { ...asks, host: 'media.test' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-methods'], 'PUT');
  });
});
