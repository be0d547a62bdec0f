/**
 * ext_authz over gRPC with a real session: the embedded identity server signs an identity up,
 * and Check allows its session token with the identity headers and a verifiable identity
 * assertion, the same identity the HTTP decision API answers with.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { status as grpcStatus } from '@grpc/grpc-js';
import { embeddedKratos, startTestGateway } from '../../helpers/servers.js';
import { extAuthzClient, headerMap } from '../../helpers/ext-authz-client.js';
import { registerWithApi } from '../identity/helpers.js';
import { JWKS_PATH } from '../../../src/gateway/assertion/jwks.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('ext_authz gRPC Check with a session of the embedded identity server', () => {
  let gw: Gateway;
  let envoy: ReturnType<typeof extAuthzClient>;

  before(async () => {
    gw = await startTestGateway({
      embedded_kratos: embeddedKratos(),
      identity_headers: { 'X-User-Email': 'identity.traits.email' },
      identity_assertion: { enabled: true, claims: { email: 'identity.traits.email' } },
      routes: [{ name: 'app', match: { host: 'app.example', path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required' }],
    });
    envoy = extAuthzClient(gw.adminUrl);
  });
  after(async () => {
    envoy.close();
    await gw.shutdown();
  });

  test('allow: the identity headers and the assertion, as the HTTP decision API answers', async () => {
    const token = await registerWithApi(gw.kratosPublicUrl, 'grpc@example.com', 'a-long-enough-passphrase-9');
    const headers = { 'x-session-token': token, 'x-kratos-identity-jwt': 'spoofed' };
    const r = await envoy.check({ method: 'GET', path: '/account', host: 'app.example', headers });
    assert.equal(r.status?.code ?? 0, grpcStatus.OK);
    const set = headerMap(r.ok_response!.headers);
    assert.deepEqual(Object.keys(set).sort(), ['x-kratos-authenticated-identity-id', 'x-kratos-identity-jwt', 'x-user-email']);
    assert.equal(set['x-user-email'], 'grpc@example.com');
    // The assertion replaces the spoofed one (overwritten, so not listed for removal).
    assert.deepEqual(r.ok_response!.headers_to_remove ?? [], []);
    const jwks = createRemoteJWKSet(new URL(gw.adminUrl + JWKS_PATH));
    const { payload } = await jwtVerify(set['x-kratos-identity-jwt']!, jwks);
    assert.equal(payload.sub, set['x-kratos-authenticated-identity-id']);
    assert.equal(payload['email'], 'grpc@example.com');

    const http = await request(gw.adminUrl + '/decisions/account', { headers: { ...headers, host: 'app.example' } });
    await http.body.text();
    assert.equal(http.statusCode, 200);
    assert.equal(http.headers['x-kratos-authenticated-identity-id'], set['x-kratos-authenticated-identity-id']);
    assert.equal(http.headers['x-user-email'], 'grpc@example.com');

    const wrong = await envoy.check({ path: '/account', host: 'app.example', headers: { 'x-session-token': token + 'x' } });
    assert.equal(wrong.status?.code, grpcStatus.UNAUTHENTICATED);
  });
});
