/**
 * kratos_instances across a fleet: two gateways sharing a real redis-server. An identity purge
 * for one Kratos instance reaches the other gateway carrying that instance, so the other
 * gateway drops that instance's entry and keeps another instance's entry of the same identity id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import { startRedis } from '../../helpers/redis.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

// Bounds on how long the test waits for the fan-out, not on how fast it must be.
const WAIT_MS = 30_000;

async function metrics(gw: Gateway): Promise<string> {
  return (await request(gw.adminUrl + '/metrics')).body.text();
}

async function waitForMetric(gw: Gateway, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!pattern.test(await metrics(gw))) {
    if (Date.now() > deadline) assert.fail(`${pattern} not seen within ${WAIT_MS} ms`);
    await sleep(20);
  }
}

test('an identity purge for instance A, made on one gateway, drops A entries fleet-wide and never B entry of the same id', async () => {
  const redis = await startRedis();
  const [acme, beta, upstream] = await Promise.all([startFakeKratos(), startFakeKratos(), startEchoUpstream()]);
  const prefix = 'kg-tenants:';
  const config = {
    kratos: { public_url: 'http://127.0.0.1:1' },
    kratos_instances: {
      acme: { public_url: acme.url, hosts: ['a.test'] },
      beta: { public_url: beta.url, hosts: ['b.test'] },
    },
    session_cache: { ttl_cap_ms: 60_000, shared: { redis_url: redis.url, key_prefix: prefix } },
    log: { access_log: false },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
  };
  const gws: Gateway[] = [];
  try {
    gws.push(await startTestGateway(config), await startTestGateway(config));
    const [one, two] = gws as [Gateway, Gateway];
    for (const gw of gws) await waitForMetric(gw, /^kratos_gateway_shared_cache_up 1$/m);
    const get = async (gw: Gateway, host: string, token: string) => {
      const res = await request(gw.proxyUrl + '/app', { headers: { host, 'x-session-token': token } });
      await res.body.dump();
      return res.statusCode;
    };

    const a = acme.addSession({ identityId: 'fleet-id' });
    const b = beta.addSession({ identityId: 'fleet-id' });
    assert.equal(await get(two, 'a.test', a.token), 200);
    assert.equal(await get(two, 'b.test', b.token), 200);
    // Both are in Redis, indexed by identity scoped by instance.
    assert.equal(await redis.command('EXISTS', `${prefix}i:acme\0fleet-id`), ':1\r\n');
    assert.equal(await redis.command('EXISTS', `${prefix}i:beta\0fleet-id`), ':1\r\n');
    const calls = { acme: acme.state.calls, beta: beta.state.calls };

    const res = await request(one.adminUrl + '/sessions/cache/identities/fleet-id?kratos=acme', { method: 'DELETE' });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    await waitForMetric(two, /^kratos_gateway_invalidations_total\{direction="received"\} [1-9]/m);

    assert.equal(await redis.command('EXISTS', `${prefix}i:acme\0fleet-id`), ':0\r\n', "A's identity index was dropped in Redis");
    assert.equal(await redis.command('EXISTS', `${prefix}i:beta\0fleet-id`), ':1\r\n', "B's was not");
    assert.equal(await get(two, 'a.test', a.token), 200);
    assert.equal(await get(two, 'b.test', b.token), 200);
    assert.deepEqual(
      { acme: acme.state.calls - calls.acme, beta: beta.state.calls - calls.beta },
      { acme: 1, beta: 0 },
      "the other gateway asked A again (its entry was purged) and served B's from its cache",
    );
  } finally {
    for (const gw of gws) await gw.shutdown();
    await Promise.all([acme.close(), beta.close(), upstream.close()]);
    await redis.close();
  }
});
