/**
 * proxy.workers: 2 with session_cache.shared on a real redis-server: each worker has its own
 * Redis connection, and a logout through the mount on one worker is refused by every worker —
 * also on keep-alive connections already open to the other one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { fresh, freshStatuses, metric, metrics, MOUNT, register, startWorkersGateway, workersSetup, type WorkersSetup } from './helpers.js';

const N = 20;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let redis: TestRedis & { close(): Promise<void> };
let setup: WorkersSetup;
let gw: GatewayProcess;

before(async () => {
  upstream = await startEchoUpstream();
  redis = await startRedis();
  const routes = [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }];
  // timeout_ms at its maximum: the default (25 ms) bounds how long a request waits for Redis, and
  // on a busy machine a healthy Redis can miss it; then a lookup goes to Kratos and a purge is
  // answered before Redis has published it, and the assertions below would race the machine.
  const shared = { redis_url: redis.url, key_prefix: 'kg-workers:', timeout_ms: 10_000 };
  setup = await workersSetup(2, routes, { session_cache: { shared } });
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
});

after(async () => {
  await gw.stop();
  await upstream.close();
  await redis.close();
  setup.cleanup();
});

test('with Redis, a new credential costs one whoami for all workers, and a logout through the mount is refused by every worker', async () => {
  // Every process (primary and both workers) connected to Redis: the gauge is the least of them.
  for (let i = 0; i < 600 && metric(await metrics(setup.admin), 'kratos_gateway_shared_cache_up') !== 1; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(metric(await metrics(setup.admin), 'kratos_gateway_shared_cache_up'), 1);

  const token = await register(setup.proxy, 'redis-workers@example.com');
  const auth = { 'x-session-token': token };
  const active = async () => metric(await metrics(setup.admin), 'kratos_gateway_whoami_requests_total{outcome="active"}');
  const before = await active();
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth), Array(N).fill(200));
  assert.equal((await active()) - before, 1, 'the second worker was answered from Redis (L2)');

  // Keep-alive connections opened before the logout, spread over both workers.
  const agents = Array.from({ length: 4 }, () => new Agent({ connections: 1, pipelining: 0 }));
  const onKept = async (agent: Agent) => {
    const res = await request(setup.proxy + '/x', { headers: auth, dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  };
  try {
    assert.deepEqual(await Promise.all(agents.map(onKept)), [200, 200, 200, 200]);
    const logout = await fresh(`${setup.proxy}${MOUNT}/sessions`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ session_token: token }),
    });
    assert.equal(logout.status, 204, logout.body);
    // The very next request on every open connection, and on new ones, is refused.
    assert.deepEqual(await Promise.all(agents.map(onKept)), [401, 401, 401, 401]);
    assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth), Array(N).fill(401));
  } finally {
    await Promise.all(agents.map((a) => a.close()));
  }
});
