/**
 * While an instance cannot reach Redis (a partition: Redis and its data stay), its purges
 * wait in an outbox, replayed when it is back; the replay is what deletes the revoked session
 * from the shared tier (L2). The Kratos mount purges every credential a mutating request
 * presents, valid or not, so an anonymous client can queue purges of random keys at will. They
 * must not push a revocation out of the outbox, nor log a line each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cred, instance, waitFor, sharedRig } from './shared-helpers.js';

const rig = sharedRig({ proxy: true });

test('a flood of bogus-credential purges while partitioned does not drop a queued identity purge', async () => {
  const { redis, kratos, proxy } = rig;
  const o = { kratosUrl: kratos.url, keyPrefix: 'kg-review-outbox:', timeoutMs: 100, degradedTtlCapMs: 300, store: { outboxMax: 100 } };
  const a = await instance({ ...o, redisUrl: proxy.url });
  const b = await instance({ ...o, redisUrl: redis.url });
  try {
    const victim = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(victim.token))).status, 'authenticated');
    assert.equal((await b.resolver.resolve(cred(victim.token))).status, 'authenticated', 'an L2 hit: the session is in Redis');

    proxy.block(true);
    await waitFor(() => !a.store.up, 'A to lose Redis');
    // The victim's sessions revoked at Kratos, and purged through A (the admin purge): queued.
    kratos.sessions.delete(victim.token);
    await a.resolver.purgeIdentity(victim.identityId);
    // Anonymous POSTs through A's mount with made-up tokens: one key purge each.
    for (let i = 0; i < 300; i++) await a.resolver.purgeIdentityOf(cred(`bogus-${i}-${Math.random()}`));
    const fullLines = a.logLines.filter((l) => l.includes('outbox full')).length;
    assert.ok(fullLines <= 1, `one line for an overflowing outbox, not one per purge (${fullLines})`);

    proxy.block(false);
    await waitFor(() => a.store.up, 'A to reconnect');
    await sleep(300);
    // An instance without the session in its own tier asks the shared one: the purge must have reached it.
    b.store.dropKey(b.resolver.cacheKey(cred(victim.token)));
    assert.equal((await b.resolver.resolve(cred(victim.token))).status, 'unauthenticated', 'the revoked session is gone from Redis');
  } finally {
    proxy.block(false);
    await a.resolver.close();
    await b.resolver.close();
  }
});
