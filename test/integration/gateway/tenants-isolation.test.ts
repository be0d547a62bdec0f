/**
 * One Kratos per tenant (kratos_instances): two fake Kratos on two hosts beside the top-level
 * one. A request is authenticated against its host's Kratos, and cache entries, purges and
 * metrics stay with that Kratos: a token of tenant A is never accepted on tenant B's host from
 * A's cache entry, and a purge of an identity id at A leaves B's identity of the same id alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('kratos_instances: token, cache and purge isolation between tenants', () => {
  let top: Kratos;
  let acme: Kratos;
  let beta: Kratos;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Gateway;

  before(async () => {
    [top, acme, beta, upstream] = await Promise.all([startFakeKratos(), startFakeKratos(), startFakeKratos(), startEchoUpstream()]);
    gw = await startTestGateway({
      kratos: { public_url: top.url },
      kratos_instances: {
        acme: { public_url: acme.url, hosts: ['a.test'] },
        beta: { public_url: beta.url, hosts: ['*.b.test'] },
      },
      session_cache: { ttl_cap_ms: 60_000, negative_ttl_ms: 60_000 },
      proxy: { trusted_proxies: ['127.0.0.1/32'] },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
  });
  after(async () => {
    await gw.shutdown();
    await Promise.all([top.close(), acme.close(), beta.close(), upstream.close()]);
  });

  async function get(host: string, token: string | undefined, path = '/app', extra: Record<string, string> = {}) {
    const res = await request(gw.proxyUrl + path, {
      headers: { host, accept: 'application/json', ...(token === undefined ? {} : { 'x-session-token': token }), ...extra },
    });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  }

  async function metrics(): Promise<string> {
    return (await request(gw.adminUrl + '/metrics')).body.text();
  }

  test("a token is checked at its host's Kratos; tenant A's token on B's host is refused even while A's cache holds it", async () => {
    const a = acme.addSession();
    const callsBefore = { top: top.state.calls, acme: acme.state.calls, beta: beta.state.calls };
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal((await get('A.Test:8080', a.token)).status, 200, 'case and port do not matter');
    assert.equal(acme.state.calls - callsBefore.acme, 1, 'asked A once, then cached');
    // Now cached for A: on B's hosts and on the top-level host the same token goes to that Kratos.
    assert.equal((await get('x.b.test', a.token)).status, 401);
    assert.equal((await get('y.x.b.test', a.token)).status, 401);
    // Asked once: the second host of B's wildcard finds B's own negative entry.
    assert.equal(beta.state.calls - callsBefore.beta, 1, "B's Kratos was asked (and said no), A's cache was not used");
    assert.equal((await get('gateway.test', a.token)).status, 401);
    assert.equal(top.state.calls - callsBefore.top, 1);
    // `*.b.test` is not `b.test` nor `evil-b.test`: those are the top-level kratos's.
    const b = beta.addSession();
    assert.equal((await get('x.b.test', b.token)).status, 200);
    assert.equal((await get('b.test', b.token)).status, 401);
    assert.equal((await get('evil-b.test', b.token)).status, 401);
  });

  test('the upstream gets the identity of the Kratos of the host', async () => {
    const a = acme.addSession({ identityId: 'acme-identity' });
    upstream.received.length = 0;
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal(upstream.received.at(-1)?.headers['x-kratos-authenticated-identity-id'], 'acme-identity');
  });

  test('an admin purge by identity id with ?kratos= purges that Kratos only, though B has an identity of the same id', async () => {
    const a = acme.addSession({ identityId: 'same-id' });
    const b = beta.addSession({ identityId: 'same-id' });
    const t = top.addSession({ identityId: 'same-id' });
    const allAuthenticated = async () => {
      for (const [host, token] of [
        ['a.test', a.token],
        ['x.b.test', b.token],
        ['gateway.test', t.token],
      ] as const)
        assert.equal((await get(host, token)).status, 200);
    };
    await allAuthenticated();
    const calls = { top: top.state.calls, acme: acme.state.calls, beta: beta.state.calls };

    const res = await request(gw.adminUrl + '/sessions/cache/identities/same-id?kratos=acme', { method: 'DELETE' });
    assert.deepEqual(await res.body.json(), { identity_id: 'same-id', kratos: 'acme', purged: 1 });
    await allAuthenticated();
    assert.deepEqual(
      { top: top.state.calls - calls.top, acme: acme.state.calls - calls.acme, beta: beta.state.calls - calls.beta },
      { top: 0, acme: 1, beta: 0 },
      "only A's entry was purged",
    );

    // Without ?kratos: the top-level kratos's identity.
    const top1 = await request(gw.adminUrl + '/sessions/cache/identities/same-id', { method: 'DELETE' });
    assert.deepEqual(await top1.body.json(), { identity_id: 'same-id', purged: 1 });
    const unknown = await request(gw.adminUrl + '/sessions/cache/identities/same-id?kratos=nope', { method: 'DELETE' });
    assert.equal(unknown.statusCode, 400);
    await unknown.body.dump();
  });

  test('an admin purge of a credential with ?kratos= drops that Kratos entry only', async () => {
    // The same token value known to both tenants' Kratos (as two sessions there).
    const a = acme.addSession();
    beta.sessions.set(a.token, { identityId: 'beta-of-same-token' });
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal((await get('x.b.test', a.token)).status, 200);
    const calls = { acme: acme.state.calls, beta: beta.state.calls };
    const res = await request(gw.adminUrl + '/sessions/cache/credential?kratos=beta', {
      method: 'DELETE',
      headers: { 'x-session-token': a.token },
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal((await get('x.b.test', a.token)).status, 200);
    assert.deepEqual({ acme: acme.state.calls - calls.acme, beta: beta.state.calls - calls.beta }, { acme: 0, beta: 1 });
  });

  test("the mount proxies to the host's Kratos, and a revocation through it purges that Kratos's entries only", async () => {
    const a = acme.addSession({ identityId: 'mount-id' });
    const b = beta.addSession({ identityId: 'mount-id' });
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal((await get('x.b.test', b.token)).status, 200);

    // A read through the mount reaches the host's Kratos.
    const calls = { top: top.state.calls, acme: acme.state.calls, beta: beta.state.calls };
    assert.equal((await get('x.b.test', b.token, '/.ory/kratos/public/sessions/whoami')).status, 200);
    assert.equal((await get('x.b.test', a.token, '/.ory/kratos/public/sessions/whoami')).status, 401);
    assert.deepEqual(
      { top: top.state.calls - calls.top, acme: acme.state.calls - calls.acme, beta: beta.state.calls - calls.beta },
      { top: 0, acme: 0, beta: 2 },
    );

    // A mutating request through A's mount (a revocation) purges A's entries of its identity.
    const revoke = await request(gw.proxyUrl + '/.ory/kratos/public/sessions', {
      method: 'DELETE',
      headers: { host: 'a.test', 'x-session-token': a.token },
    });
    await revoke.body.dump();
    const after = { acme: acme.state.calls, beta: beta.state.calls };
    assert.equal((await get('a.test', a.token)).status, 200);
    assert.equal((await get('x.b.test', b.token)).status, 200);
    assert.deepEqual(
      { acme: acme.state.calls - after.acme, beta: beta.state.calls - after.beta },
      { acme: 1, beta: 0 },
      "B's entry of the same identity id was kept",
    );
  });

  test('the decision API authenticates against the Kratos of the original host', async () => {
    const a = acme.addSession({ identityId: 'decided-acme' });
    // Envoy appends the original path to the prefix; Traefik asks the prefix itself.
    const decide = async (headers: Record<string, string>) => {
      const path = headers['x-forwarded-uri'] === undefined ? '/decisions/app' : '/decisions';
      const res = await request(gw.adminUrl + path, { headers: { 'x-session-token': a.token, ...headers } });
      await res.body.dump();
      return { status: res.statusCode, id: res.headers['x-kratos-authenticated-identity-id'] };
    };
    // Envoy: the Host of the check request is the original one.
    assert.deepEqual(await decide({ host: 'a.test' }), { status: 200, id: 'decided-acme' });
    assert.equal((await decide({ host: 'x.b.test' })).status, 401);
    // Traefik, from a trusted proxy: X-Forwarded-Host names it, whatever Host the check was sent with.
    assert.deepEqual(
      await decide({
        host: '127.0.0.1',
        'x-forwarded-host': 'a.test',
        'x-forwarded-uri': '/app',
        'x-forwarded-method': 'GET',
        'x-forwarded-proto': 'http',
      }),
      {
        status: 200,
        id: 'decided-acme',
      },
    );
    assert.equal(
      (
        await decide({
          host: 'a.test',
          'x-forwarded-host': 'x.b.test',
          'x-forwarded-uri': '/app',
          'x-forwarded-method': 'GET',
          'x-forwarded-proto': 'http',
        })
      ).status,
      401,
    );
  });

  test("a browser on a tenant's host is sent to that host's own login flow", async () => {
    const res = await get('a.test:8080', undefined, '/app/page?x=1', { accept: 'text/html' });
    assert.equal(res.status, 302);
    assert.equal(
      res.headers.location,
      'http://a.test:8080/.ory/kratos/public/self-service/login/browser?return_to=' + encodeURIComponent('http://a.test:8080/app/page?x=1'),
    );
  });

  test('whoami and cache metrics carry the kratos label: default and the configured names only', async () => {
    const text = await metrics();
    assert.match(text, /^kratos_gateway_whoami_requests_total\{kratos="acme",outcome="active"\} [1-9]/m);
    assert.match(text, /^kratos_gateway_whoami_requests_total\{kratos="beta",outcome="unauthorized"\} [1-9]/m);
    assert.match(text, /^kratos_gateway_whoami_requests_total\{kratos="default",outcome="unauthorized"\} [1-9]/m);
    assert.match(text, /^kratos_gateway_session_cache_lookups_total\{kratos="acme",result="hit"\} [1-9]/m);
    assert.match(text, /^kratos_gateway_whoami_duration_seconds_count\{kratos="beta"\} [1-9]/m);
    const labels = new Set([...text.matchAll(/kratos="([^"]*)"/g)].map((m) => m[1]));
    assert.deepEqual([...labels].sort(), ['acme', 'beta', 'default']);
  });
});
