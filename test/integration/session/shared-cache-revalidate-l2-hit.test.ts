/**
 * With revalidate_after_ms, an entry older than that is served once more while a
 * background whoami checks it. An instance that finds such an old entry in Redis (L2 hit, its
 * first request for the credential) served it without starting that check: only its next
 * request did, so a session revoked at Kratos was served one request later than the bound says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NOT_A_SESSION } from '../../../src/gateway/session/store/session-store.js';
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
    // ...while one background whoami, B's own, checks it.
    await waitFor(() => kratos.state.calls > calls, 'the background re-check');
    // Waits for the re-check's end (counted once its answer is kept), not for a moment while it
    // runs: the entry is dropped fleet-wide and then held as "not a session", as a miss's would be.
    const revoked = 'kratos_gateway_session_revalidations_total{outcome="revoked"}';
    await waitFor(async () => (await b.metric(revoked)) === 1, "B's re-check to find the session revoked");
    assert.equal(await a.metric(revoked), undefined, "the re-check was B's");
    assert.equal(b.store.get(b.resolver.cacheKey(cred(s.token))), NOT_A_SESSION, "B holds the re-check's answer");
    // The next request is refused on that answer, without asking Kratos again.
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'unauthenticated', 'the next request is rejected');
    assert.equal(kratos.state.calls - calls, 1, 'one whoami in all: the re-check');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});
