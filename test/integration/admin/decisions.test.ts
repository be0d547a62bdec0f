import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

async function decide(gw: Gateway, path: string, headers: Record<string, string>, method = 'GET') {
  const res = await request(gw.adminUrl + path, { method: method as 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe('forward-auth decision API', () => {
  let kratos: Kratos;
  let untrusted: Gateway;
  let trusted: Gateway;

  before(async () => {
    kratos = await startFakeKratos();
    const base = {
      kratos: { public_url: kratos.url },
      identity_headers: { 'X-User-Email': 'identity.traits.email' },
      routes: [
        { name: 'public', match: { host: 'app.example', path_prefix: '/public' }, upstream: 'http://127.0.0.1:9', auth: 'anonymous' },
        { name: 'admin-only-host', match: { host: 'admin.example', path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required' },
        { name: 'app', match: { host: 'app.example', path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required' },
      ],
    };
    untrusted = await startTestGateway(base);
    trusted = await startTestGateway({ ...base, proxy: { trusted_proxies: ['127.0.0.1/32', '::1'] } });
  });
  after(async () => {
    await untrusted.shutdown();
    await trusted.shutdown();
    await kratos.close();
  });

  test('Envoy style: path below the prefix; allow = 200 with identity headers, deny = 401 with a challenge', async () => {
    const s = kratos.addSession({ traits: { email: 'e@example.com' } });
    const allow = await decide(untrusted, '/decisions/orders/1', {
      host: 'app.example',
      authorization: `Bearer ${s.token}`,
      'x-kratos-authenticated-identity-id': 'spoof',
    });
    assert.equal(allow.status, 200);
    assert.equal(allow.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(allow.headers['x-user-email'], 'e@example.com');
    const deny = await decide(untrusted, '/decisions/orders/1', { host: 'app.example' });
    assert.equal(deny.status, 401);
    assert.match(String(deny.headers['www-authenticate']), /Bearer/);
    assert.equal(deny.headers['x-kratos-authenticated-identity-id'], undefined);
  });

  test('nginx style: X-Original-URI/Method name the request, canonicalized like the proxy', async () => {
    const anon = await decide(trusted, '/decisions', { host: 'app.example', 'x-original-uri': '/public/x', 'x-original-method': 'GET' });
    assert.equal(anon.status, 200, 'anonymous route allows without a credential');
    const traversal = await decide(trusted, '/decisions', {
      host: 'app.example',
      'x-original-uri': '/public/../secret',
      'x-original-method': 'GET',
    });
    assert.equal(traversal.status, 401, '/public/../secret is /secret, a required route');
    const encoded = await decide(trusted, '/decisions', { host: 'app.example', 'x-original-uri': '/public/%2e%2e/secret' });
    assert.equal(encoded.status, 401);
    const slash = await decide(trusted, '/decisions', { host: 'app.example', 'x-original-uri': '/public/a%2Fb' });
    assert.equal(slash.status, 400);
    const browser = await decide(trusted, '/decisions', { host: 'app.example', accept: 'text/html', 'x-original-uri': '/page' });
    assert.equal(browser.status, 401, 'nginx treats anything but 2xx/401/403 as an error, so never a redirect');
    // ...but the 401 carries the login URL for nginx to redirect to, return_to encoded.
    const login = new URL(String(browser.headers.location));
    assert.equal(login.searchParams.get('return_to'), 'http://127.0.0.1:4455/page');
    const api = await decide(trusted, '/decisions', { host: 'app.example', accept: 'application/json', 'x-original-uri': '/page' });
    assert.equal(api.status, 401);
    assert.equal(api.headers.location, undefined, 'API clients get no login URL');
  });

  test('no matching route denies with 403', async () => {
    const res = await decide(untrusted, '/decisions/x', { host: 'unknown.example' });
    assert.equal(res.status, 403);
  });

  test('X-Forwarded-* from a peer outside trusted_proxies is a 400, never trusted', async () => {
    const s = kratos.addSession();
    const res = await decide(untrusted, '/decisions', {
      'x-forwarded-host': 'app.example',
      'x-forwarded-uri': '/public/x',
      'x-forwarded-method': 'GET',
      'x-session-token': s.token,
    });
    assert.equal(res.status, 400);
    assert.match(res.text, /trusted_proxies/);
  });

  test('nginx style from a peer outside trusted_proxies: X-Original-URI / X-Original-Method are a 400 naming proxy.trusted_proxies', async () => {
    // Ignoring the headers instead would judge the subrequest's own GET and path: a POST's
    // decision made for a GET. So a request naming itself this way is refused outright.
    const s = kratos.addSession();
    const sent: Array<[string, Record<string, string>]> = [
      ['/decisions', { host: 'app.example', 'x-original-uri': '/public/x', 'x-original-method': 'GET' }],
      ['/decisions', { host: 'app.example', 'x-original-uri': '/x', 'x-session-token': s.token }],
      // Beside Envoy's form, the method header would otherwise be ignored and the request line's GET judged.
      ['/decisions/public/x', { host: 'app.example', 'x-original-method': 'POST' }],
    ];
    for (const [path, headers] of sent) {
      const res = await decide(untrusted, path, headers);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(headers)}: ${res.text}`);
      assert.match(res.text, /proxy\.trusted_proxies/);
      assert.equal(res.headers['x-kratos-authenticated-identity-id'], undefined);
    }
    // From a peer in proxy.trusted_proxies the same requests are decided.
    assert.equal((await decide(trusted, '/decisions', sent[0]![1])).status, 200);
    const allowed = await decide(trusted, '/decisions', sent[1]![1]);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['x-kratos-authenticated-identity-id'], s.identityId);
  });

  test('Traefik style from a trusted proxy: host and URI from X-Forwarded-*, browsers may get the login redirect', async () => {
    const s = kratos.addSession();
    const allow = await decide(trusted, '/decisions', {
      'x-forwarded-host': 'app.example',
      'x-forwarded-uri': '/x',
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'https',
      'x-session-token': s.token,
    });
    assert.equal(allow.status, 200);
    assert.equal(allow.headers['x-kratos-authenticated-identity-id'], s.identityId);
    // Host-based routing follows X-Forwarded-Host: admin.example requires a session too.
    const adminHost = await decide(trusted, '/decisions', {
      'x-forwarded-host': 'admin.example',
      'x-forwarded-uri': '/x',
      'x-forwarded-method': 'GET',
    });
    assert.equal(adminHost.status, 401);
    const browser = await decide(trusted, '/decisions', {
      'x-forwarded-host': 'app.example',
      'x-forwarded-uri': '/x?y=1',
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'http',
      accept: 'text/html',
    });
    assert.equal(browser.status, 302);
    const location = new URL(String(browser.headers.location));
    // app.example is not an allowed return_to host, so the return_to falls back to the public base URL.
    assert.equal(location.searchParams.get('return_to'), 'http://127.0.0.1:4455/x?y=1');
  });

  test("a path below the prefix and a naming header that disagree are a 400: either may be the client's", async () => {
    // Envoy (trusted) names the request by the path it appends; a client's X-Original-URI or
    // X-Forwarded-Uri passed along with it would otherwise be judged instead of the path proxied.
    const variants: Record<string, string>[] = [
      { 'x-original-uri': '/public/x' },
      { 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET' },
    ];
    for (const headers of variants) {
      const res = await decide(trusted, '/decisions/admin/secret', { host: 'app.example', ...headers });
      assert.equal(res.status, 400, JSON.stringify(headers));
      assert.match(res.text, /both name the request, differently/);
    }
    // Where they agree there is nothing to choose between.
    assert.equal((await decide(trusted, '/decisions/public/x', { host: 'app.example', 'x-original-uri': '/public/x' })).status, 200);
  });

  test("a path below the prefix names the request whole: a naming header's method or host that differs is a 400", async () => {
    // Envoy (trusted, e.g. inside a listed pod CIDR) names the request by its request line: the
    // path below the prefix, its method and Host. A client that copies its own path into
    // X-Forwarded-Uri / X-Original-URI must not get the rest of the request named by its
    // X-Forwarded-Host or -Method instead: here a required route on admin.example would be
    // judged as the anonymous one on app.example.
    const hijacks: Array<[string, Record<string, string>, string]> = [
      ['X-Forwarded-Host', { host: 'admin.example', 'x-forwarded-uri': '/public/x', 'x-forwarded-host': 'app.example' }, 'GET'],
      ['X-Forwarded-Method', { host: 'app.example', 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET' }, 'POST'],
      ['X-Original-Method', { host: 'app.example', 'x-original-uri': '/public/x', 'x-original-method': 'GET' }, 'POST'],
    ];
    for (const [header, headers, method] of hijacks) {
      const res = await decide(trusted, '/decisions/public/x', headers, method);
      assert.equal(res.status, 400, header);
      assert.match(res.text, new RegExp(header), header);
    }
    // Headers that say what the request line says change nothing.
    const same = { host: 'app.example', 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'POST', 'x-forwarded-host': 'app.example' };
    assert.equal((await decide(trusted, '/decisions/public/x', same, 'POST')).status, 200);
    assert.equal((await decide(trusted, '/decisions/x', { ...same, 'x-forwarded-uri': '/x' }, 'POST')).status, 401);
  });

  test('a decision request that names no original request is a 400, never judged as a request for /', async () => {
    // nginx without X-Original-URI calls the prefix itself; Envoy always appends the original
    // path, which starts with "/". Judged as "/", every request would get the answer of the route for "/".
    for (const path of ['/decisions', '/decisions?a=1']) {
      const res = await decide(trusted, path, { host: 'app.example', 'x-original-method': 'POST' });
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.match(res.text, /X-Original-URI/);
    }
    // Traefik's form without X-Forwarded-Uri (X-Forwarded-Proto passed on by nginx, say).
    const traefik = await decide(trusted, '/decisions', { 'x-forwarded-proto': 'https', 'x-forwarded-method': 'GET' });
    assert.equal(traefik.status, 400, traefik.text);
    assert.match(traefik.text, /X-Forwarded-Uri/);
    // Envoy's form for the original path "/".
    assert.equal((await decide(untrusted, '/decisions/', { host: 'app.example' })).status, 401);
  });

  test('Kratos down: the decision fails closed with 503', async () => {
    const dead = await startFakeKratos();
    const url = dead.url;
    await dead.close();
    const g = await startTestGateway({
      kratos: { public_url: url },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
    });
    try {
      const res = await decide(g, '/decisions/x', { 'x-session-token': 'abc' });
      assert.equal(res.status, 503);
    } finally {
      await g.shutdown();
    }
  });
});
