/**
 * An instance's revalidation claim (REVALIDATE) finds a newer answer in Redis, and a
 * purge of that session lands in Redis just after the script ran. Redis sends the reply on the
 * command connection and the purge message on the subscriber connection; this instance may
 * read the message first. The purge must still win: the "refreshed" value must not be put back
 * into the in-process tier after the purge dropped it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cred, instance, waitFor, sharedRig } from './shared-helpers.js';

const rig = sharedRig({ proxy: true });

test('a purge read before the REVALIDATE reply that found a newer value: the purged session is not served again', async () => {
  const { redis, kratos, proxy } = rig;
  const R = 1_000;
  const o = { kratosUrl: kratos.url, keyPrefix: 'kg-review-reval:', timeoutMs: 1_500, revalidateAfterMs: R, store: { heartbeatMs: 5_000 } };
  const a = await instance({ ...o, redisUrl: redis.url });
  const b = await instance({ ...o, redisUrl: proxy.url });
  try {
    const s = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated', 'B: an L2 hit');
    await sleep(R + 50);
    // A re-checks first: Redis now holds an answer newer than B's copy.
    const calls = kratos.state.calls;
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    await waitFor(() => kratos.state.calls - calls === 1, "A's re-check");
    await sleep(100);

    // B's copy is old: its re-check claims through Redis; the reply is held back on the wire.
    proxy.delayCommandReplies(300);
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated', 'served at once, re-checked in the background');
    await sleep(50);
    // Logged out at Kratos and purged through A (the admin purge) while B's reply is on its way.
    kratos.sessions.delete(s.token);
    await a.resolver.purgeIdentity(s.identityId);
    await sleep(450);
    proxy.delayCommandReplies(0);
    assert.equal(
      (await b.resolver.resolve(cred(s.token))).status,
      'unauthenticated',
      'B serves the purged session again (put back by the late REVALIDATE reply)',
    );
  } finally {
    proxy.delayCommandReplies(0);
    await a.resolver.close();
    await b.resolver.close();
  }
});
