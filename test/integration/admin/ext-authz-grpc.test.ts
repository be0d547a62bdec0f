/**
 * Envoy's ext_authz over gRPC on the admin listener, with @grpc/grpc-js speaking Envoy's own
 * definitions as the Envoy side: the answers are the HTTP decision API's, asked on the same port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { freePort, startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import { extAuthzClient, headerMap, type CheckResponse } from '../../helpers/ext-authz-client.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
type Client = ReturnType<typeof extAuthzClient>;

const upstream = 'http://127.0.0.1:9';
const routes = [
  { name: 'public', match: { host: 'app.example', path_prefix: '/public' }, upstream, auth: 'anonymous' },
  {
    name: 'editors',
    match: { host: 'app.example', path_prefix: '/edit' },
    upstream,
    policy: { path: 'identity.metadata_public.role', equals: 'editor' },
  },
  { name: 'app', match: { host: 'app.example', path_prefix: '/' }, upstream, auth: 'required' },
];

/** The HTTP decision API's answer for the same request, in Envoy's form (path below the prefix). */
async function decideHttp(gw: Gateway, path: string, headers: Record<string, string>, method = 'GET') {
  const res = await request(gw.adminUrl + '/decisions' + path, { method: method as 'GET', headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** A refusal's HTTP status, body and headers, as the HTTP decision API would write them. */
function deniedOf(r: CheckResponse) {
  assert.equal(r.http_response, 'denied_response');
  const d = r.denied_response!;
  return { status: d.status?.code, body: d.body ?? '', headers: headerMap(d.headers) };
}

describe('ext_authz gRPC Check on the admin listener', () => {
  let kratos: Kratos;
  let gw: Gateway;
  let trusted: Gateway;
  let envoy: Client;

  before(async () => {
    kratos = await startFakeKratos();
    const base = { kratos: { public_url: kratos.url }, identity_headers: { 'X-User-Email': 'identity.traits.email' }, routes };
    gw = await startTestGateway(base);
    trusted = await startTestGateway({
      ...base,
      proxy: { trusted_proxies: ['127.0.0.1/32', '::1'] },
      login: { allowed_return_to_hosts: ['app.example'] },
    });
    envoy = extAuthzClient(gw.adminUrl);
  });
  after(async () => {
    envoy.close();
    await gw.shutdown();
    await trusted.shutdown();
    await kratos.close();
  });

  test('allow: OK with the identity headers overwriting the caller’s, the same as the HTTP decision API', async () => {
    const s = kratos.addSession({ traits: { email: 'e@example.com' } });
    const headers = { 'x-session-token': s.token, accept: 'application/json' };
    const r = await envoy.check({ method: 'POST', path: '/orders/1?x=2', host: 'app.example', headers });
    assert.equal(r.status?.code ?? 0, grpcStatus.OK);
    assert.equal(r.http_response, 'ok_response');
    const set = r.ok_response!.headers!;
    assert.deepEqual(headerMap(set), { 'x-kratos-authenticated-identity-id': s.identityId, 'x-user-email': 'e@example.com' });
    for (const o of set) {
      assert.equal(o.append_action, 2, 'OVERWRITE_IF_EXISTS_OR_ADD');
      assert.equal(o.keep_empty_value, true);
    }
    assert.deepEqual(r.ok_response!.headers_to_remove ?? [], []);
    // The HTTP/1.1 decision API on the same port, for the same request.
    const http = await decideHttp(gw, '/orders/1?x=2', { ...headers, host: 'app.example' }, 'POST');
    assert.equal(http.status, 200);
    assert.equal(http.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(http.headers['x-user-email'], 'e@example.com');
  });

  test('protected headers the caller sent and the answer does not set are removed, in every spelling', async () => {
    const s = kratos.addSession({ traits: { email: 'e@example.com' } });
    const spoofed = {
      'x-kratos-authenticated-identity-id': 'spoofed',
      x_kratos_authenticated_identity_id: 'spoofed',
      x_user_email: 'spoofed@example.com',
      'x-kratos-session-id': 'spoofed',
      'x-kratos-identity-jwt': 'spoofed',
      'x-http-method-override': 'DELETE',
      'x-original-url': '/admin',
    };
    const allowed = await envoy.check({
      path: '/x',
      host: 'app.example',
      headers: { ...spoofed, 'x-session-token': s.token, 'x-other': '1' },
    });
    assert.equal(headerMap(allowed.ok_response!.headers)['x-kratos-authenticated-identity-id'], s.identityId);
    // The one the answer sets is overwritten, not removed; every other one is removed.
    assert.deepEqual(
      [...allowed.ok_response!.headers_to_remove!].sort(),
      Object.keys(spoofed)
        .filter((n) => n !== 'x-kratos-authenticated-identity-id')
        .sort(),
    );
    // An anonymous route sets nothing, so every spoofed header is removed.
    const anonymous = await envoy.check({ path: '/public/a', host: 'app.example', headers: spoofed });
    assert.equal(anonymous.status?.code ?? 0, grpcStatus.OK);
    assert.deepEqual(anonymous.ok_response!.headers ?? [], []);
    assert.deepEqual([...anonymous.ok_response!.headers_to_remove!].sort(), Object.keys(spoofed).sort());
  });

  test('deny without a session: UNAUTHENTICATED with the decision API’s 401, body and challenge', async () => {
    const headers = { accept: 'application/json' };
    const r = await envoy.check({ path: '/orders', host: 'app.example', headers });
    assert.equal(r.status?.code, grpcStatus.UNAUTHENTICATED);
    const denied = deniedOf(r);
    const http = await decideHttp(gw, '/orders', { ...headers, host: 'app.example' });
    assert.equal(denied.status, 401);
    assert.equal(denied.status, http.status);
    assert.equal(denied.body, http.body);
    assert.equal(denied.headers['www-authenticate'], http.headers['www-authenticate']);
    assert.equal(denied.headers['content-type'], http.headers['content-type']);
    assert.equal(denied.headers['location'], undefined);
  });

  test('deny a browser navigation: 401 with the login URL in Location, as the decision API', async () => {
    const headers = { accept: 'text/html' };
    const r = await envoy.check({ path: '/page?a=1', host: 'app.example', headers });
    assert.equal(r.status?.code, grpcStatus.UNAUTHENTICATED);
    const denied = deniedOf(r);
    const http = await decideHttp(gw, '/page?a=1', { ...headers, host: 'app.example' });
    assert.equal(denied.status, 401);
    assert.equal(http.status, 401);
    assert.ok(denied.headers['location']);
    assert.equal(denied.headers['location'], http.headers['location']);
    assert.equal(denied.body, http.body);
    assert.equal(new URL(denied.headers['location']).searchParams.get('return_to'), 'http://127.0.0.1:4455/page?a=1');
  });

  test('deny by route policy: PERMISSION_DENIED with the decision API’s 403; no route: 403 too', async () => {
    const s = kratos.addSession({ metadataPublic: { role: 'viewer' } });
    const headers = { 'x-session-token': s.token, accept: 'application/json' };
    const r = await envoy.check({ path: '/edit/1', host: 'app.example', headers });
    assert.equal(r.status?.code, grpcStatus.PERMISSION_DENIED);
    const http = await decideHttp(gw, '/edit/1', { ...headers, host: 'app.example' });
    assert.equal(http.status, 403);
    assert.deepEqual({ status: deniedOf(r).status, body: deniedOf(r).body }, { status: 403, body: http.body });
    const editor = kratos.addSession({ metadataPublic: { role: 'editor' } });
    const ok = await envoy.check({ path: '/edit/1', host: 'app.example', headers: { 'x-session-token': editor.token } });
    assert.equal(ok.status?.code ?? 0, grpcStatus.OK);
    const none = await envoy.check({ path: '/x', host: 'unknown.example', headers: { 'x-session-token': editor.token } });
    assert.equal(none.status?.code, grpcStatus.PERMISSION_DENIED);
    assert.equal(deniedOf(none).status, 403);
  });

  test('context_extensions route: names the route used; a name the gateway does not have is refused', async () => {
    // /public/x matches the anonymous route; Envoy says it belongs to `app`, which requires a session.
    const named = await envoy.check({ path: '/public/x', host: 'app.example', context_extensions: { route: 'app' } });
    assert.equal(named.status?.code, grpcStatus.UNAUTHENTICATED);
    // And the other way round, on a host no route matches.
    const anon = await envoy.check({ path: '/secret', host: 'other.example', context_extensions: { route: 'public', tenant: 'x' } });
    assert.equal(anon.status?.code ?? 0, grpcStatus.OK);
    const unknown = await envoy.check({ path: '/public/x', host: 'app.example', context_extensions: { route: 'nope' } });
    assert.equal(unknown.status?.code, grpcStatus.PERMISSION_DENIED);
    assert.equal(deniedOf(unknown).status, 403);
    // Other keys alone change nothing.
    const other = await envoy.check({ path: '/public/x', host: 'app.example', context_extensions: { tenant: 'acme' } });
    assert.equal(other.status?.code ?? 0, grpcStatus.OK);
  });

  test('X-Forwarded-* in the checked headers are believed only from trusted_proxies', async () => {
    const headers = { accept: 'text/html', 'x-forwarded-host': 'app.example', 'x-forwarded-proto': 'https' };
    const returnTo = (r: CheckResponse) => new URL(deniedOf(r).headers['location']!).searchParams.get('return_to');
    // Not trusted: the public base URL.
    assert.equal(returnTo(await envoy.check({ path: '/p', host: 'app.example', headers })), 'http://127.0.0.1:4455/p');
    const fromTrusted = extAuthzClient(trusted.adminUrl);
    try {
      assert.equal(returnTo(await fromTrusted.check({ path: '/p', host: 'app.example', headers })), 'https://app.example/p');
    } finally {
      fromTrusted.close();
    }
  });

  test('an unknown method is UNIMPLEMENTED; an :authority the admin host check does not know is served', async () => {
    const call = (path: string) =>
      new Promise<ServiceError>((resolve, reject) =>
        envoy.client.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err) => (err ? resolve(err) : reject(new Error('answered'))),
        ),
      );
    assert.equal((await call('/envoy.service.auth.v3.Authorization/Nope')).code, grpcStatus.UNIMPLEMENTED);
    assert.equal((await call('/envoy.service.auth.v2.Authorization/Check')).code, grpcStatus.UNIMPLEMENTED);
    // Envoy sends the Service's name (Istio) or its cluster name as :authority, not in admin.allowed_hosts.
    const istio = extAuthzClient(gw.adminUrl, { 'grpc.default_authority': 'kratos-gateway-authz-grpc.gateway.svc.cluster.local:4456' });
    try {
      const r = await istio.check({ path: '/public/x', host: 'app.example' });
      assert.equal(r.status?.code ?? 0, grpcStatus.OK);
    } finally {
      istio.close();
    }
    // The HTTP/1.1 side still refuses a host name it does not know.
    const health = await request(gw.adminUrl + '/health/alive', { headers: { host: 'evil.example' } });
    await health.body.text();
    assert.equal(health.statusCode, 421);
  });

  test('Kratos unreachable: a CheckResponse UNAVAILABLE with the decision API’s 503, never an RPC error', async () => {
    const port = await freePort();
    const dead = await startTestGateway({ kratos: { public_url: `http://127.0.0.1:${port}` }, routes });
    const client = extAuthzClient(dead.adminUrl);
    try {
      const headers = { 'x-session-token': 'some-token', accept: 'application/json' };
      // Resolves: an RPC error would be an allow under Envoy's failure_mode_allow.
      const r = await client.check({ path: '/x', host: 'app.example', headers });
      assert.equal(r.status?.code, grpcStatus.UNAVAILABLE);
      const denied = deniedOf(r);
      const http = await decideHttp(dead, '/x', { ...headers, host: 'app.example' });
      assert.equal(denied.status, 503);
      assert.equal(http.status, 503);
      assert.equal(denied.body, http.body);
      assert.equal(denied.headers['retry-after'], http.headers['retry-after']);
    } finally {
      client.close();
      await dead.shutdown();
    }
  });
});
