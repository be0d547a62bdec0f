/**
 * With revalidate_after_ms, an entry older than that is served once more while a
 * background whoami checks it. An instance that finds such an old entry in Redis (L2 hit, its
 * first request for the credential) served it without starting that check: only its next
 * request did, so a session revoked at Kratos was served one request later than the bound says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cred, instance, waitFor, sharedRig } from './shared-helpers.js';

const rig = sharedRig();

test('an old entry found in Redis is re-checked in the background like an old L1 hit', async () => {
  const { redis, kratos } = rig;
  const R = 400;
  const o = { redisUrl: redis.url, kratosUrl: kratos.url, keyPrefix: 'kg-review-l2old:', revalidateAfterMs: R };
  const a = await instance(o);
  const b = await instance(o);
  try {
    const s = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    await sleep(R + 100);
    kratos.sessions.delete(s.token); // revoked at Kratos, no gateway involved
    const calls = kratos.state.calls;
    // B's first request: an L2 hit on an entry older than revalidate_after_ms, served once more...
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'authenticated');
    // ...while one background whoami checks it.
    await waitFor(() => kratos.state.calls > calls, 'the background re-check');
    // Its answer (revoked) drops the entry; then the next request is asked again, and refused.
    await waitFor(() => b.store.get(b.resolver.cacheKey(cred(s.token))) === undefined, 'the re-check to drop the entry');
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'unauthenticated', 'the next request is rejected');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});
