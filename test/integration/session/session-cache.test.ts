import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startFakeKratos, startTestGateway, startStack } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

async function status(url: string, headers: Record<string, string>): Promise<number> {
  const res = await request(url, { headers });
  await res.body.dump();
  return res.statusCode;
}

async function metric(gw: Gateway, line: string): Promise<number> {
  const res = await request(gw.adminUrl + '/metrics');
  const text = await res.body.text();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? Number.NaN : Number(found.slice(line.length + 1));
}

describe('session cache and whoami coalescing', () => {
  let kratos: Kratos;
  let gw: Gateway;
  let close: () => Promise<void>;

  before(async () => {
    ({ kratos, gw, close } = await startStack((u) => ({
      session_cache: { ttl_cap_ms: 60_000, negative_ttl_ms: 60_000 },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' }],
    })));
  });
  after(() => close());

  test('200 concurrent requests with one new token make exactly one whoami call; cached requests make none', async () => {
    kratos.state.fault = { kind: 'delay', ms: 200 };
    const s = kratos.addSession();
    const calls = kratos.state.calls;
    const lookups = async () => ({
      miss: await metric(gw, 'kratos_gateway_session_cache_lookups_total{result="miss"}'),
      served:
        (await metric(gw, 'kratos_gateway_session_cache_lookups_total{result="coalesced"}')) +
        (await metric(gw, 'kratos_gateway_session_cache_lookups_total{result="hit"}')),
    });
    const before = await lookups();
    const statuses = await Promise.all(Array.from({ length: 200 }, () => status(gw.proxyUrl + '/x', { 'x-session-token': s.token })));
    kratos.state.fault = { kind: 'normal' };
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal(kratos.state.calls - calls, 1);
    for (let i = 0; i < 20; i++) assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    assert.equal(kratos.state.calls - calls, 1);
    const afterwards = await lookups();
    assert.equal(afterwards.miss - before.miss, 1, 'one lookup went to Kratos');
    assert.equal(afterwards.served - before.served, 219, 'every other lookup shared that call or hit the cache');
  });

  test('an entry is re-fetched after the session expires_at', async () => {
    const s = kratos.addSession({ expiresAt: new Date(Date.now() + 400) });
    const calls = kratos.state.calls;
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    assert.equal(kratos.state.calls - calls, 1);
    await sleep(450);
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token, accept: 'application/json' }), 401);
    assert.equal(kratos.state.calls - calls, 2);
  });

  test('invalid credentials are cached negatively; the cache key never confuses credential kinds', async () => {
    const calls = kratos.state.calls;
    for (let i = 0; i < 5; i++) assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': 'no-such-token' }), 401);
    assert.equal(kratos.state.calls - calls, 1);
    assert.ok((await metric(gw, 'kratos_gateway_session_cache_lookups_total{result="negative_hit"}')) >= 4);
    // The same value as a cookie is a different credential: its own lookup.
    const s = kratos.addSession();
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    assert.equal(await status(gw.proxyUrl + '/x', { cookie: `ory_kratos_session=${s.token}` }), 200);
    assert.equal(kratos.state.calls - calls, 3);
  });

  test('the admin purge endpoint drops every cached session of an identity', async () => {
    const s = kratos.addSession();
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    kratos.sessions.get(s.token)!.active = false; // revoked behind the gateway's back
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200, 'still cached');
    const purge = await request(`${gw.adminUrl}/sessions/cache/identities/${s.identityId}`, { method: 'DELETE' });
    assert.equal(purge.statusCode, 200);
    assert.deepEqual(await purge.body.json(), { identity_id: s.identityId, purged: 1 });
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token, accept: 'application/json' }), 401);
  });

  test('a whoami answer in flight while its identity is purged is not cached', async () => {
    const s = kratos.addSession();
    const calls = kratos.state.calls;
    kratos.state.fault = { kind: 'delay', ms: 500 };
    const first = status(gw.proxyUrl + '/x', { 'x-session-token': s.token });
    // Once Kratos has the question, the identity is purged (its traits changed, say) before the answer.
    while (kratos.state.calls === calls) await sleep(5);
    const purge = await request(`${gw.adminUrl}/sessions/cache/identities/${s.identityId}`, { method: 'DELETE' });
    await purge.body.dump();
    assert.equal(await first, 200, 'the request that came before the purge is answered as Kratos answered it');
    kratos.state.fault = { kind: 'normal' };
    assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
    assert.equal(kratos.state.calls - calls, 2, 'the answer from before the purge was not kept: the next request asked Kratos again');
  });

  test('the cache entries gauge and whoami outcome counters are exported', async () => {
    assert.ok((await metric(gw, 'kratos_gateway_session_cache_entries')) >= 1);
    assert.ok((await metric(gw, 'kratos_gateway_whoami_requests_total{outcome="active"}')) >= 1);
    assert.ok((await metric(gw, 'kratos_gateway_whoami_requests_total{outcome="unauthorized"}')) >= 1);
  });
});

describe('session cache honours Kratos hints and relays a refreshed cookie', () => {
  test('Ory-Session-Cache-For: 0 disables caching of that answer; a whoami Set-Cookie reaches the client', async () => {
    const { kratos, gw, close } = await startStack((u) => ({
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream }],
    }));
    try {
      kratos.state.cacheFor = 0;
      kratos.state.setCookie = 'ory_kratos_session=refreshed; Path=/; HttpOnly';
      const s = kratos.addSession();
      const calls = kratos.state.calls;
      const first = await request(gw.proxyUrl + '/status/200', { headers: { 'x-session-token': s.token } });
      await first.body.dump();
      const setCookie = ([] as string[]).concat(first.headers['set-cookie'] ?? []);
      assert.ok(setCookie.includes('ory_kratos_session=refreshed; Path=/; HttpOnly'), 'refreshed Kratos cookie relayed');
      assert.ok(setCookie.includes('a=1; Path=/') && setCookie.includes('b=2; Path=/'), 'upstream cookies kept intact');
      await sleep(5);
      assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
      assert.equal(kratos.state.calls - calls, 2);
    } finally {
      await close();
    }
  });

  test('with the cache disabled every request asks Kratos', async () => {
    const { kratos, gw, close } = await startStack((u) => ({
      session_cache: { enabled: false },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream }],
    }));
    try {
      const s = kratos.addSession();
      const calls = kratos.state.calls;
      for (let i = 0; i < 3; i++) assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
      assert.equal(kratos.state.calls - calls, 3);
    } finally {
      await close();
    }
  });
  test('a flood of invalid tokens cannot evict valid sessions from the cache', async () => {
    const { kratos, gw, close } = await startStack((u) => ({
      session_cache: { max_entries: 10, negative_ttl_ms: 60_000 },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream }],
    }));
    try {
      const s = kratos.addSession();
      assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
      for (let i = 0; i < 300; i++)
        assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': `invalid-${i}`, accept: 'application/json' }), 401);
      const calls = kratos.state.calls;
      assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': s.token }), 200);
      assert.equal(kratos.state.calls, calls, 'the valid session was still cached');
      assert.equal(await status(gw.proxyUrl + '/x', { 'x-session-token': 'invalid-7', accept: 'application/json' }), 401);
      assert.equal(kratos.state.calls, calls, 'and so was the negative answer');
    } finally {
      await close();
    }
  });
});
