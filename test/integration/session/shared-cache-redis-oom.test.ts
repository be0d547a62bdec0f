/**
 * A property that holds, kept as a guard: Redis out of memory under the default policy
 * (maxmemory set, noeviction), which a flood of bogus tokens can cause (one negative entry
 * each). Fills are then refused and sessions live in each instance's own tier only; a purge must
 * still reach the fleet. It does because the purge scripts' first write is a DEL, which Redis
 * lets through, and a script that has called a write is not refused later: a script that began
 * with its marker SET would publish nothing, and every other instance would serve the revoked
 * session for ttl_cap_ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cred, instance, sharedRig } from './shared-helpers.js';

const rig = sharedRig();

test('Redis out of memory: a logout through A still reaches B, which rejects the session', async () => {
  const { redis, kratos } = rig;
  const o = { redisUrl: redis.url, kratosUrl: kratos.url, keyPrefix: 'kg-review-oom:', timeoutMs: 200, store: { heartbeatMs: 200 } };
  const a = await instance(o);
  const b = await instance(o);
  try {
    assert.match(await redis.command('CONFIG', 'SET', 'maxmemory', '1'), /^\+OK/);
    const s = kratos.addSession();
    // Both ask Kratos (the fill lock and the fill are refused) and keep the session in process.
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal(b.resolver.size, 1);

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
    assert.equal(status, 'unauthenticated', 'B rejects the revoked session');
  } finally {
    await redis.command('CONFIG', 'SET', 'maxmemory', '0').catch(() => '');
    await a.resolver.close();
    await b.resolver.close();
  }
});
