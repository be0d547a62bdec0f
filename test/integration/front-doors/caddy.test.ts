/**
 * Forward auth with a real Caddy (Debian's caddy): config/examples/caddy/Caddyfile in front of
 * an echo upstream, forward_auth asking the gateway's decision API (admin listener), a whoami
 * test server standing in for Kratos. The example is used as written; only its site address
 * and its two upstream addresses are replaced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type EchoRecord } from '../../helpers/servers.js';
import { contract, lower } from '../../helpers/front-doors.js';
import { startForwardAuthRig, type ForwardAuthRig } from '../../helpers/forward-auth-rig.js';
import { send } from '../deploy/nginx.js';
import { CADDY_EXAMPLE, caddyConfig, startCaddy, type RunningCaddy } from './caddy.js';

describe('Caddy forward_auth against the decision API', () => {
  let rig: ForwardAuthRig;
  let caddy: RunningCaddy;
  let alice: ForwardAuthRig['alice'];

  before(async () => {
    rig = await startForwardAuthRig((upstream) => ({
      // Caddy sends the Traefik form (X-Forwarded-*), believed only from trusted proxies.
      proxy: { trusted_proxies: ['127.0.0.1/32'] },
      // Its header is one the front door copies; an ephemeral key is enough here.
      identity_assertion: { enabled: true },
      routes: [
        { name: 'public', match: { path_prefix: '/public' }, upstream, auth: 'anonymous' },
        // Reading orders is public, changing them needs a session.
        { name: 'orders-read', match: { path_prefix: '/orders', methods: ['GET'] }, upstream, auth: 'anonymous' },
        { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' },
      ],
    }));
    alice = rig.alice;
    caddy = await startCaddy((port) => caddyConfig(CADDY_EXAMPLE, rig.gateway.adminUrl, rig.upstream.url, port));
  });

  after(async () => {
    await caddy?.stop();
    await rig?.close();
  });

  const seen = (path: string) => rig.seen(path);
  /** The values of every header the upstream received whose name, `_` read as `-`, is a protected one. */
  const protectedValues = (rec: EchoRecord): string[] =>
    rec.rawHeaders.flatMap((v, i) =>
      i % 2 === 1 && lower(contract.protectedHeaders).includes(rec.rawHeaders[i - 1]!.toLowerCase().replaceAll('_', '-')) ? [v] : [],
    );
  const spoofs = Object.fromEntries(contract.protectedHeaders.map((h) => [h, 'attacker']));

  it('an allowed request reaches the upstream with the identity headers and the assertion, the client copies replaced', async () => {
    const res = await send(caddy.url, '/app/orders?page=2', {
      'x-session-token': alice.token,
      accept: 'application/json',
      ...spoofs,
      X_Kratos_Authenticated_Identity_Id: 'attacker-underscore',
    });
    assert.equal(res.status, 200, caddy.log());
    const [rec] = seen('/app/orders?page=2');
    assert.ok(rec, 'the upstream received the request');
    assert.equal(rec.headers['x-kratos-authenticated-identity-id'], alice.identityId);
    assert.equal(rec.headers['x-user-email'], 'alice@example.com');
    assert.equal(rec.headers['x-kratos-session-id'], `session-${alice.identityId}`);
    assert.match(String(rec.headers[contract.assertionHeader.toLowerCase()]), /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
    assert.ok(!protectedValues(rec).some((v) => v.startsWith('attacker')), 'no spoofed value reaches the upstream');
  });

  it('a session cookie works as well as a session token', async () => {
    const res = await send(caddy.url, '/app/cookie', { cookie: `theme=dark; ${contract.sessionCookie}=${alice.token}` });
    assert.equal(res.status, 200);
    assert.equal(seen('/app/cookie')[0]?.headers['x-kratos-authenticated-identity-id'], alice.identityId);
  });

  it('an API client without a session gets the 401 with WWW-Authenticate and never reaches the upstream', async () => {
    const res = await send(caddy.url, '/app/no-credential', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.ok(res.headers['www-authenticate'], 'WWW-Authenticate is set');
    assert.equal((JSON.parse(res.body) as { error: { code: number } }).error.code, 401);
    assert.deepEqual(seen('/app/no-credential'), []);
  });

  it('a browser without a session is redirected to the login flow with an encoded return_to', async () => {
    const res = await send(caddy.url, '/app/page?a=1&b=2', { accept: 'text/html,application/xhtml+xml' });
    assert.equal(res.status, 302, caddy.log());
    const login = new URL(String(res.headers['location']));
    assert.equal(login.origin + login.pathname, `https://app.example.com${contract.loginPath}`);
    assert.deepEqual([...login.searchParams.keys()], [contract.returnToParam], 'b=2 stays inside return_to');
    assert.equal(login.searchParams.get(contract.returnToParam), 'https://app.example.com/app/page?a=1&b=2');
    assert.deepEqual(seen('/app/page?a=1&b=2'), []);
  });

  it('spoofed protected headers (any case, underscores) never reach the upstream on an anonymous route', async () => {
    const res = await send(caddy.url, '/public/spoof', {
      ...Object.fromEntries(contract.protectedHeaders.map((h) => [h.toUpperCase(), 'attacker'])),
      X_Kratos_Authenticated_Identity_Id: 'attacker-underscore',
      X_User_Email: 'attacker@example.com',
    });
    assert.equal(res.status, 200, caddy.log());
    const [rec] = seen('/public/spoof');
    assert.ok(rec, 'anonymous routes reach the upstream');
    // Caddy 2.6 would send the placeholder's text ("{http.reverse_proxy.header.…}") for headers
    // the answer lacks; the example deletes those too.
    assert.deepEqual(protectedValues(rec), [], 'no protected header at all');
  });

  it('the original method is judged: a POST is not let through as the GET of a public route', async () => {
    assert.equal((await send(caddy.url, '/orders/1', { accept: 'application/json' })).status, 200);
    const res = await send(caddy.url, '/orders/2', { accept: 'application/json' }, 'POST');
    assert.equal(res.status, 401);
    assert.deepEqual(seen('/orders/2'), []);
  });

  it('a client cannot name another request: Caddy replaces X-Forwarded-Uri and -Method', async () => {
    const res = await send(caddy.url, '/app/secret', {
      accept: 'application/json',
      'x-forwarded-uri': '/public/x',
      'x-forwarded-method': 'GET',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(seen('/app/secret'), []);
  });
});
