/**
 * Forward auth with a real nginx (Debian's nginx-light): config/examples/nginx/auth_request.conf
 * in front of an echo upstream, with auth_request against the gateway's decision API
 * (admin listener) and a whoami test server standing in for Kratos. The example file is
 * used as written; only its two upstream addresses and its listen port are replaced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contract, lower } from '../../helpers/front-doors.js';
import { startForwardAuthRig, type ForwardAuthRig } from '../../helpers/forward-auth-rig.js';
import { exampleConfig, NGINX_EXAMPLE, send, startNginx, type RunningNginx } from './nginx.js';

describe('nginx auth_request against the decision API', () => {
  let rig: ForwardAuthRig;
  let nginx: RunningNginx;
  let alice: ForwardAuthRig['alice'];

  before(async () => {
    rig = await startForwardAuthRig((upstream) => ({
      routes: [
        { name: 'public', match: { path_prefix: '/public' }, upstream, auth: 'anonymous' },
        { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' },
      ],
    }));
    alice = rig.alice;
    nginx = await startNginx((port) => exampleConfig(NGINX_EXAMPLE, rig.gateway.adminUrl, rig.upstream.url, port));
  });

  after(async () => {
    await nginx?.stop();
    await rig?.close();
  });

  const seen = (path: string) => rig.seen(path);

  it('an allowed request reaches the upstream with the identity headers from the decision', async () => {
    const res = await send(nginx.url, '/app/orders?page=2', { 'x-session-token': alice.token, accept: 'application/json' });
    assert.equal(res.status, 200, nginx.errorLog());
    const [rec] = seen('/app/orders?page=2');
    assert.ok(rec, 'the upstream received the request');
    assert.equal(rec.headers['x-kratos-authenticated-identity-id'], alice.identityId);
    assert.equal(rec.headers['x-user-email'], 'alice@example.com');
    assert.equal(rec.headers['x-kratos-session-id'], `session-${alice.identityId}`);
  });

  it('a session cookie works as well as a session token', async () => {
    const res = await send(nginx.url, '/app/cookie', { cookie: `theme=dark; ory_kratos_session=${alice.token}` });
    assert.equal(res.status, 200);
    assert.equal(seen('/app/cookie')[0]?.headers['x-kratos-authenticated-identity-id'], alice.identityId);
  });

  it('a request without a credential gets 401 with WWW-Authenticate and never reaches the upstream', async () => {
    const res = await send(nginx.url, '/app/no-credential', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.ok(res.headers['www-authenticate'], 'WWW-Authenticate is set');
    assert.equal((JSON.parse(res.body) as { error: { code: number } }).error.code, 401);
    assert.deepEqual(seen('/app/no-credential'), []);
  });

  it('an unknown or revoked token gets 401', async () => {
    const res = await send(nginx.url, '/app/bad-token', { 'x-session-token': 'not-a-session', accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.deepEqual(seen('/app/bad-token'), []);
  });

  it('a browser without a session is redirected to the login flow with a return_to', async () => {
    const res = await send(nginx.url, '/app/page?x=1', { accept: 'text/html,application/xhtml+xml' });
    assert.equal(res.status, 302, nginx.errorLog());
    assert.equal(
      res.headers['location'],
      'https://app.example.com/.ory/kratos/public/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fapp%2Fpage%3Fx%3D1',
    );
    assert.deepEqual(seen('/app/page?x=1'), []);
  });

  it('return_to keeps every query parameter of the original URL (it is URL-encoded)', async () => {
    const res = await send(nginx.url, '/x?a=1&b=2', { accept: 'text/html' });
    assert.equal(res.status, 302, nginx.errorLog());
    const login = new URL(String(res.headers['location']));
    assert.equal(login.origin + login.pathname, 'https://app.example.com/.ory/kratos/public/self-service/login/browser');
    assert.deepEqual([...login.searchParams.keys()], ['return_to'], 'b=2 stays inside return_to');
    assert.equal(login.searchParams.get('return_to'), 'https://app.example.com/x?a=1&b=2');
    assert.deepEqual(seen('/x?a=1&b=2'), []);
  });

  it('an API client gets the 401, not the login redirect', async () => {
    const res = await send(nginx.url, '/x?a=1&b=2', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['location'], undefined);
  });

  it('a spoofed identity header is replaced on an allowed request', async () => {
    const res = await send(nginx.url, '/app/spoof-allowed', {
      'x-session-token': alice.token,
      'x-kratos-authenticated-identity-id': 'attacker',
      'X-User-Email': 'attacker@example.com',
    });
    assert.equal(res.status, 200);
    const [rec] = seen('/app/spoof-allowed');
    assert.ok(rec);
    assert.equal(rec.headers['x-kratos-authenticated-identity-id'], alice.identityId);
    assert.equal(rec.headers['x-user-email'], 'alice@example.com');
    const raw = rec.rawHeaders.filter((_, i) => i % 2 === 1);
    assert.ok(!raw.includes('attacker') && !raw.includes('attacker@example.com'), 'no spoofed value anywhere');
  });

  it('a spoofed identity header on a denied request gets 401 and never reaches the upstream', async () => {
    const res = await send(nginx.url, '/app/spoof-denied', {
      'x-kratos-authenticated-identity-id': alice.identityId,
      accept: 'application/json',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(seen('/app/spoof-denied'), []);
  });

  it('spoofed identity headers (any case, underscores) are removed on an anonymous route', async () => {
    const res = await send(nginx.url, '/public/spoof', {
      'X-KRATOS-AUTHENTICATED-IDENTITY-ID': 'attacker',
      X_Kratos_Authenticated_Identity_Id: 'attacker-underscore',
      'x-kratos-session-id': 'attacker-session',
      'x-user-email': 'attacker@example.com',
      'x-kratos-identity-jwt': 'attacker.jwt.value',
    });
    assert.equal(res.status, 200);
    const [rec] = seen('/public/spoof');
    assert.ok(rec, 'anonymous routes reach the upstream');
    const names = rec.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replaceAll('_', '-'));
    for (const h of lower(contract.protectedHeaders)) {
      assert.ok(!names.includes(h), `${h} must not reach the upstream`);
    }
  });

  it('the decision uses the canonical path: a dot segment cannot borrow the anonymous route', async () => {
    const res = await send(nginx.url, '/public/../app/secret', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.equal(rig.upstream.received.filter((r) => r.url.includes('secret')).length, 0);
  });
});
