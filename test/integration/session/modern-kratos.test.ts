/**
 * The gateway against a Kratos v26 whoami (fixture server whose every answer is validated
 * against the v26.2.0 spec): AAL2 step-up on 403 session_aal2_required, full v26 session
 * bodies, and Ory-Session-Cache-For on a 401.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { exchange, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';
import { startModernKratos } from '../../helpers/modern-kratos.js';
import { STEP_UP_TTL_CAP_MS } from '../../../src/gateway/session/session-resolver.js';

const PUBLIC = 'https://app.example';
const MOUNT = `${PUBLIC}/.ory/kratos/public`;
const CUSTOM_LOGIN = `${PUBLIC}/ui/login`;
const BROWSER = { accept: 'text/html,application/xhtml+xml' };

function wsHandshake(path: string, cookie: string): string {
  return (
    [
      `GET ${path} HTTP/1.1`,
      'Host: app.example',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      `Cookie: ory_kratos_session=${cookie}`,
    ].join('\r\n') + '\r\n\r\n'
  );
}

describe('modern Kratos (v26) whoami', () => {
  let kratos: Awaited<ReturnType<typeof startModernKratos>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    kratos = await startModernKratos();
    upstream = await startEchoUpstream();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      proxy: { public_base_url: PUBLIC, trusted_proxies: ['127.0.0.1/32', '::1/128'] },
      login: { redirect_url: CUSTOM_LOGIN },
      session_cache: { ttl_cap_ms: 60_000, negative_ttl_ms: 60_000 },
      log: { access_log: false },
      identity_headers: { 'X-User-Id': 'identity.id', 'X-User-Email': 'identity.traits.email', 'X-Session-Id': 'session.id' },
      routes: [
        { name: 'opt', match: { path_prefix: '/maybe' }, upstream: upstream.url, auth: 'optional' },
        { name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' },
      ],
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
  });

  const cookie = (token: string) => ({ cookie: `ory_kratos_session=${token}` });

  test('a full v26 session body (devices, tokenized, authentication_methods, metadata_public) is accepted and mapped', async () => {
    const { token, session } = kratos.addSession({ aal: 'aal2' });
    // Kratos sets `tokenized` only for a tokenize_as request; here one arrives unasked and is ignored.
    kratos.state.strayTokenized = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln';
    const res = await request(`${gw.proxyUrl}/x`, { headers: { 'x-session-token': token } }).finally(() => {
      kratos.state.strayTokenized = undefined;
    });
    assert.equal(res.statusCode, 200);
    const echoed = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-user-id'], session.identityId);
    assert.equal(echoed.headers['x-user-email'], 'a@example.com');
    assert.equal(echoed.headers['x-session-id'], session.sessionId);
  });

  test('browser with an aal1 session: 302 to redirect_browser_to moved onto the mount, with the return_to added', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    const res = await request(`${gw.proxyUrl}/app/page?x=1`, { headers: { ...BROWSER, ...cookie(token) } });
    await res.body.dump();
    assert.equal(res.statusCode, 302);
    const location = new URL(res.headers.location as string);
    assert.equal(location.origin + location.pathname, `${MOUNT}/self-service/login/browser`);
    assert.equal(location.searchParams.get('aal'), 'aal2');
    assert.equal(location.searchParams.get('return_to'), `${PUBLIC}/app/page?x=1`);
  });

  test('a redirect_browser_to already on the mount is followed; its return_to is kept only if the policy accepts it', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    kratos.state.redirectOverride = `${MOUNT}/self-service/login/browser?aal=aal2&return_to=${encodeURIComponent(`${PUBLIC}/elsewhere`)}`;
    try {
      const res = await request(`${gw.proxyUrl}/a`, { headers: { ...BROWSER, ...cookie(token) } });
      await res.body.dump();
      assert.equal(res.statusCode, 302);
      const location = new URL(res.headers.location as string);
      assert.equal(location.origin + location.pathname, `${MOUNT}/self-service/login/browser`);
      assert.equal(location.searchParams.get('return_to'), `${PUBLIC}/elsewhere`);

      const other = kratos.addSession({ aal: 'aal1' });
      kratos.state.redirectOverride = `${MOUNT}/self-service/login/browser?aal=aal2&return_to=${encodeURIComponent('https://evil.example/')}`;
      const res2 = await request(`${gw.proxyUrl}/b`, { headers: { ...BROWSER, ...cookie(other.token) } });
      await res2.body.dump();
      assert.equal(new URL(res2.headers.location as string).searchParams.get('return_to'), `${PUBLIC}/b`);
    } finally {
      kratos.state.redirectOverride = undefined;
    }
  });

  test('a redirect_browser_to on another host (or not http) is not followed: the login with aal=aal2 instead', async () => {
    for (const foreign of [
      'https://evil.example/self-service/login/browser?aal=aal2',
      'javascript:alert(1)',
      `${kratos.url.replace('127.0.0.1', 'localhost')}/x`,
    ]) {
      kratos.state.redirectOverride = foreign;
      try {
        const { token } = kratos.addSession({ aal: 'aal1' });
        const res = await request(`${gw.proxyUrl}/p?q=2`, { headers: { ...BROWSER, ...cookie(token) } });
        await res.body.dump();
        assert.equal(res.statusCode, 302, foreign);
        const location = new URL(res.headers.location as string);
        assert.equal(location.origin + location.pathname, CUSTOM_LOGIN, foreign);
        assert.equal(location.searchParams.get('aal'), 'aal2');
        assert.equal(location.searchParams.get('return_to'), `${PUBLIC}/p?q=2`);
      } finally {
        kratos.state.redirectOverride = undefined;
      }
    }
  });

  test('API client with an aal1 session: 403 JSON carrying Kratos error id', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    const res = await request(`${gw.proxyUrl}/api/x`, { headers: { 'x-session-token': token, accept: 'application/json' } });
    assert.equal(res.statusCode, 403);
    const body = (await res.body.json()) as { error: Record<string, unknown> };
    assert.equal(body.error.code, 403);
    assert.equal(body.error.status, 'Forbidden');
    assert.equal(body.error.id, 'session_aal2_required');
    assert.match(String(body.error.reason), /Authenticator Assurance Level/);
    assert.equal(upstream.received.filter((r) => r.url === '/api/x').length, 0, 'never forwarded');
  });

  test('optional route: an aal1 session goes on anonymous, without identity headers', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    const res = await request(`${gw.proxyUrl}/maybe/x`, { headers: { ...BROWSER, ...cookie(token) } });
    assert.equal(res.statusCode, 200);
    const echoed = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-user-id'], undefined);
    assert.equal(echoed.headers['x-session-id'], undefined);
  });

  test('the step-up answer is cached briefly; after stepping up the session is allowed within the cap', async (t) => {
    const { token, session } = kratos.addSession({ aal: 'aal1' });
    const headers = { 'x-session-token': token };
    const calls = kratos.state.calls;
    const startedAt = performance.now();
    const first = await request(`${gw.proxyUrl}/s`, { headers });
    await first.body.dump();
    assert.equal(first.statusCode, 403);
    const second = await request(`${gw.proxyUrl}/s`, { headers });
    await second.body.dump();
    assert.equal(second.statusCode, 403);
    // The entry was made after startedAt and lives STEP_UP_TTL_CAP_MS (a constant): when both
    // answers came back within it, the second one was necessarily a hit. A machine too loaded
    // for that cannot show it; the expiry below is checked either way.
    const bothWithinMs = performance.now() - startedAt;
    if (bothWithinMs < STEP_UP_TTL_CAP_MS)
      assert.equal(kratos.state.calls - calls, 1, 'the second refusal came from the short negative entry');
    else t.diagnostic(`both refusals took ${bothWithinMs.toFixed(0)} ms: the hit cannot be told apart from an expiry`);
    const refusals = kratos.state.calls - calls;
    session.aal = 'aal2'; // stepped up at Kratos: same token, higher AAL
    await sleep(STEP_UP_TTL_CAP_MS + 100);
    const third = await request(`${gw.proxyUrl}/s`, { headers });
    await third.body.dump();
    assert.equal(third.statusCode, 200);
    assert.equal(kratos.state.calls - calls, refusals + 1);
    // The session is now cached positively (60 s): no whoami, and not poisoned by the earlier refusal.
    const fourth = await request(`${gw.proxyUrl}/s`, { headers });
    await fourth.body.dump();
    assert.equal(fourth.statusCode, 200);
    assert.equal(kratos.state.calls - calls, refusals + 1);
  });

  test('a step-up through the mount (credentialed POST) drops the step-up entry at once', async () => {
    const { token, session } = kratos.addSession({ aal: 'aal1' });
    const first = await request(`${gw.proxyUrl}/t`, { headers: cookie(token) });
    await first.body.dump();
    assert.equal(first.statusCode, 403);
    session.aal = 'aal2';
    const post = await request(`${gw.proxyUrl}/.ory/kratos/public/self-service/login?flow=abc`, {
      method: 'POST',
      headers: { ...cookie(token), 'content-type': 'application/json' },
      body: '{"method":"totp","totp_code":"123456"}',
    });
    await post.body.dump();
    const next = await request(`${gw.proxyUrl}/t`, { headers: cookie(token) });
    await next.body.dump();
    assert.equal(next.statusCode, 200, 'no wait for the step-up entry to expire');
  });

  test('decision API: 401 with the step-up Location for nginx, 302 for Traefik, 403 with the id for an API client', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    const nginx = await request(`${gw.adminUrl}/decisions/app/d`, { headers: { ...BROWSER, ...cookie(token), host: 'app.example' } });
    await nginx.body.dump();
    assert.equal(nginx.statusCode, 401);
    assert.equal(
      new URL(nginx.headers.location as string).origin + new URL(nginx.headers.location as string).pathname,
      `${MOUNT}/self-service/login/browser`,
    );

    const traefik = await request(`${gw.adminUrl}/decisions`, {
      headers: {
        ...BROWSER,
        ...cookie(token),
        'x-forwarded-host': 'app.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-uri': '/d?y=1',
        'x-forwarded-method': 'GET',
      },
    });
    await traefik.body.dump();
    assert.equal(traefik.statusCode, 302);
    const location = new URL(traefik.headers.location as string);
    assert.equal(location.origin + location.pathname, `${MOUNT}/self-service/login/browser`);
    assert.equal(location.searchParams.get('aal'), 'aal2');

    const api = await request(`${gw.adminUrl}/decisions/app/d`, { headers: { 'x-session-token': token, accept: 'application/json' } });
    assert.equal(api.statusCode, 403);
    assert.equal(((await api.body.json()) as { error: { id: string } }).error.id, 'session_aal2_required');
  });

  test('WebSocket handshake with an aal1 session: 403 with the error id (a socket cannot follow a redirect)', async () => {
    const { token } = kratos.addSession({ aal: 'aal1' });
    const raw = await exchange(gw.proxyUrl, wsHandshake('/ws', token));
    assert.match(raw, /^HTTP\/1\.1 403 /);
    assert.match(raw, /"id":"session_aal2_required"/);
  });

  test('v1 logout through the mount (GET /self-service/logout, DELETE /self-service/logout/api) ends the cached session', async () => {
    const browser = kratos.addSession({ aal: 'aal2' });
    const api = kratos.addSession({ aal: 'aal2' });
    for (const h of [cookie(browser.token), { 'x-session-token': api.token }]) {
      const res = await request(`${gw.proxyUrl}/l`, { headers: h });
      await res.body.dump();
      assert.equal(res.statusCode, 200); // now cached
    }
    const out = await request(`${gw.proxyUrl}/.ory/kratos/public/self-service/logout?token=lt`, {
      headers: { ...cookie(browser.token), accept: 'application/json' },
    });
    await out.body.dump();
    assert.equal(out.statusCode, 204);
    const apiOut = await request(`${gw.proxyUrl}/.ory/kratos/public/self-service/logout/api`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_token: api.token }),
    });
    await apiOut.body.dump();
    assert.equal(apiOut.statusCode, 204);
    for (const h of [cookie(browser.token), { 'x-session-token': api.token }]) {
      const res = await request(`${gw.proxyUrl}/l`, { headers: { ...h, accept: 'application/json' } });
      await res.body.dump();
      assert.equal(res.statusCode, 401, 'a logged-out session was still served from the cache');
    }
  });

  test('Ory-Session-Cache-For on a 401 bounds the negative entry; without it negative_ttl_ms applies', async () => {
    // Seconds: long enough that three requests fit on a loaded machine, far below negative_ttl_ms (60 s).
    const CACHE_FOR_S = 3;
    kratos.state.cacheFor401 = CACHE_FOR_S;
    try {
      const missing = { 'x-session-token': 'undecodable-1' };
      const calls = kratos.state.calls;
      for (let i = 0; i < 3; i++) {
        const res = await request(`${gw.proxyUrl}/n`, { headers: { ...missing, accept: 'application/json' } });
        await res.body.dump();
        assert.equal(res.statusCode, 401);
      }
      assert.equal(kratos.state.calls - calls, 1, 'cached negatively');
      const unknown = { 'x-session-token': 'not-a-session' };
      const res = await request(`${gw.proxyUrl}/n`, { headers: { ...unknown, accept: 'application/json' } });
      await res.body.dump();
      assert.equal(kratos.state.calls - calls, 2);
      await sleep(CACHE_FOR_S * 1_000 + 100);
      for (const headers of [missing, unknown]) {
        const again = await request(`${gw.proxyUrl}/n`, { headers: { ...headers, accept: 'application/json' } });
        await again.body.dump();
        assert.equal(again.statusCode, 401);
      }
      assert.equal(kratos.state.calls - calls, 3, `the ${CACHE_FOR_S} s cache-for expired; the plain 401 is kept for negative_ttl_ms`);
    } finally {
      kratos.state.cacheFor401 = undefined;
    }
  });
});
