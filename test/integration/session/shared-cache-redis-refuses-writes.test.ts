/**
 * Redis reachable (PING answers, connections stay open) but refusing writes: the
 * configured node demoted to a read-only replica by a failover (REPLICAOF), or an ACL change.
 * A purge then never reaches the fleet; the other instances must not go on serving the revoked
 * session for ttl_cap_ms as if all were well, and the purge must reach them once Redis accepts
 * writes again, without a reconnect.
 *
 * (Out of memory under noeviction was checked too and holds: the purge scripts begin with DEL,
 * which Redis lets through, and a script that has written is not refused later.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { cred, instance, waitFor, sharedRig } from './shared-helpers.js';

const rig = sharedRig();
let primary: TestRedis & { close(): Promise<void> };

before(async () => {
  primary = await startRedis();
});
after(async () => {
  await primary.close();
});

test('Redis demoted to a read-only replica: B stops trusting its copy within the degraded cap, A’s purge is replayed once writable', async () => {
  const { redis, kratos } = rig;
  const o = {
    redisUrl: redis.url,
    kratosUrl: kratos.url,
    keyPrefix: 'kg-review-ro:',
    timeoutMs: 200,
    degradedTtlCapMs: 300,
    store: { heartbeatMs: 200 },
  };
  const a = await instance(o);
  const b = await instance(o);
  try {
    const s = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated');

    assert.match(await redis.command('REPLICAOF', '127.0.0.1', String(primary.port)), /^\+OK/);
    // Logout through A: Kratos revokes, A purges (the replica refuses the script: READONLY).
    kratos.sessions.delete(s.token);
    await a.resolver.purgeIdentityOf(cred(s.token));
    const revokedAt = Date.now();
    let status = 'authenticated';
    // A bound on waiting, far below ttl_cap_ms (when B would reject it without the fix).
    while (Date.now() - revokedAt < 20_000) {
      status = (await b.resolver.resolve(cred(s.token))).status;
      if (status === 'unauthenticated') break;
      await sleep(50);
    }
    assert.equal(status, 'unauthenticated', 'B rejects the revoked session though Redis refuses writes');
    assert.equal(await a.metric('kratos_gateway_shared_cache_up'), 0, 'a Redis that refuses writes is not "up"');
    assert.equal(await b.metric('kratos_gateway_shared_cache_up'), 0);

    // Promoted again: no reconnect needed, the queued purge is published, the fleet is up.
    const received = (await b.metric('kratos_gateway_invalidations_total{direction="received"}')) ?? 0;
    assert.match(await redis.command('REPLICAOF', 'NO', 'ONE'), /^\+OK/);
    await waitFor(() => a.store.up && b.store.up, 'both stores up again');
    for (let n = 0; n < 100; n++) {
      if (((await b.metric('kratos_gateway_invalidations_total{direction="received"}')) ?? 0) > received) break;
      await sleep(20);
    }
    assert.ok(
      ((await b.metric('kratos_gateway_invalidations_total{direction="received"}')) ?? 0) > received,
      'the purge refused by Redis was replayed once it accepted writes',
    );
  } finally {
    await redis.command('REPLICAOF', 'NO', 'ONE').catch(() => '');
    await a.resolver.close();
    await b.resolver.close();
  }
});
