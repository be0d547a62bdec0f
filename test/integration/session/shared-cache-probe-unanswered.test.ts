/**
 * The permission check a store runs before it reports up gets no answer in time (Redis
 * slow or hanging just as the store reconnects, as after a DEBUG SLEEP, a failover or a busy
 * moment). It must be asked again: a store that waits for a check nobody repeats stays down for
 * good on a healthy Redis, its logouts queued and never sent, so the rest of the fleet keeps
 * serving sessions logged out through it until ttl_cap_ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cred, instance, sharedRig, waitFor } from './shared-helpers.js';

const rig = sharedRig({ proxy: true });

test('a permission check left unanswered at reconnect is asked again: the store comes up, and a logout through it reaches the fleet', async () => {
  const { redis, kratos, proxy } = rig;
  // Heartbeats far apart: at most one falls in the slow stretch below, so it alone never makes
  // the store reconnect (which would run the check again anyway and hide the question).
  const o = { kratosUrl: kratos.url, keyPrefix: 'kg-review-probe:', timeoutMs: 200, store: { heartbeatMs: 5_000 } };
  const a = await instance({ ...o, redisUrl: proxy.url });
  const b = await instance({ ...o, redisUrl: redis.url });
  const evals = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await redis.command('INFO', 'commandstats'))?.[1] ?? 0);
  try {
    const s = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated', 'B: an L2 hit');

    proxy.block(true);
    await waitFor(() => !a.store.up, 'A to notice Redis is gone');
    // Back, but slow: replies to A's command connection take longer than the check waits (1 s).
    proxy.delayCommandReplies(3_000);
    const before = await evals();
    proxy.block(false);
    const until = Date.now() + 30_000;
    while ((await evals()) === before) assert.ok(Date.now() < until, "A's check to reach Redis");
    // The check has run in Redis, its reply is on its way late; from now on Redis answers at once.
    proxy.delayCommandReplies(0);

    await waitFor(() => a.store.up, 'A to come up once Redis answers again', 20_000);
    kratos.sessions.get(s.token)!.active = false;
    await a.resolver.purgeIdentityOf(cred(s.token));
    await waitFor(() => b.store.get(b.resolver.cacheKey(cred(s.token))) === undefined, 'the logout through A to reach B', 10_000);
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'unauthenticated');
  } finally {
    proxy.delayCommandReplies(0);
    await a.resolver.close();
    await b.resolver.close();
  }
});
