/**
 * Revocations no gateway saw: with `session_cache.revalidate_after_ms` on every
 * instance of a three-gateway fleet, a session revoked at the identity server's admin API (no
 * gateway involved) is rejected by every instance within revalidate_after_ms plus one whoami,
 * while requests before that point stay cache hits and a due revalidation does not turn a
 * request away (stale-while-revalidate). A fleet of its own: revalidation changes the whoami
 * counts the coalescing tests in fleet-fanout.test.ts assert.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet, PROPAGATION_BOUND_MS, send, sleep } from './fleet.js';

const REVALIDATE_MS = 500;
/** Far above revalidate_after_ms plus one whoami, far below ttl_cap_ms (60 s: what a fleet without revalidation would serve for). */
const BOUND_MS = PROPAGATION_BOUND_MS;

describe(`a fleet with revalidate_after_ms ${REVALIDATE_MS}`, () => {
  let fleet: Fleet;

  before(async () => {
    fleet = await Fleet.start({ sessionCache: { revalidate_after_ms: REVALIDATE_MS } });
  });
  after(async () => {
    await fleet?.close();
  });

  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

  test('hits before revalidate_after_ms stay hits; after it, requests are still served and the fleet asks Kratos again', async (t) => {
    const member = await fleet.apiMember('revalidate-hits');
    const w0 = sum(await fleet.whoamiPerInstance());
    const firstAt = performance.now();
    for (const i of fleet.instances) assert.equal(await fleet.status(i, member), 200);
    const w1 = sum(await fleet.whoamiPerInstance());
    for (let round = 0; round < 3; round++) for (const i of fleet.instances) assert.equal(await fleet.status(i, member), 200);
    const w2 = sum(await fleet.whoamiPerInstance());
    const elapsed = performance.now() - firstAt;
    t.diagnostic(`first use on A, B, C: ${w1 - w0} whoami; 9 more requests within ${elapsed.toFixed(0)} ms: ${w2 - w1} whoami`);
    assert.ok(w1 - w0 >= 1 && w1 - w0 <= 3, `first use on three instances: ${w1 - w0} whoami`);
    // Only meaningful while the entry is younger than revalidate_after_ms; a stalled machine gets the loose bound.
    if (elapsed < REVALIDATE_MS * 0.9) assert.equal(w2 - w1, 0, 'a request before revalidate_after_ms asked Kratos');
    else assert.ok(w2 - w1 <= 3 * Math.ceil(elapsed / REVALIDATE_MS), `${w2 - w1} whoami in ${elapsed.toFixed(0)} ms`);

    await sleep(REVALIDATE_MS + 200);
    const w3 = sum(await fleet.whoamiPerInstance());
    for (const i of fleet.instances)
      assert.equal(await fleet.status(i, member), 200, `${i.name} serves a due entry while it is checked again`);
    // The revalidation runs in the background: wait for it (bounded), not for a fixed number of polls.
    let w4 = w3;
    for (const until = performance.now() + BOUND_MS; w4 === w3 && performance.now() < until;) {
      await sleep(20);
      w4 = sum(await fleet.whoamiPerInstance());
    }
    t.diagnostic(`revalidation of a due entry used on three instances: ${w4 - w3} whoami (target 1)`);
    assert.ok(w4 - w3 >= 1, 'no instance asked Kratos again after revalidate_after_ms');
    assert.ok(w4 - w3 <= 3, `at most one revalidation per instance, got ${w4 - w3}`);
  });

  test('a session revoked at the identity server (no gateway involved) is rejected by every instance (bounded)', async (t) => {
    const hot = await fleet.apiMember('revalidate-revoked');
    const bystander = await fleet.apiMember('revalidate-bystander');
    for (const i of fleet.instances) {
      assert.equal(await fleet.status(i, hot), 200);
      assert.equal(await fleet.status(i, bystander), 200);
    }
    await fleet.revokeAtKratos(hot.identityId);
    const revokedAt = performance.now();
    const times = await Promise.all(fleet.instances.map((i) => fleet.rejectedWithin(i, hot, BOUND_MS, revokedAt)));
    t.diagnostic(`rejected after ${times.map((ms, n) => `${fleet.instances[n]!.name} ${ms.toFixed(0)} ms`).join(', ')}`);
    for (const i of fleet.instances) assert.equal(await fleet.status(i, bystander), 200, `${i.name} still serves the other session`);
  });

  test('no credential in Redis, in pub/sub messages or in the logs (after a logout through B, published)', async () => {
    const member = await fleet.apiMember('revalidate-logout');
    for (const i of fleet.instances) assert.equal(await fleet.status(i, member), 200);
    const res = await send(fleet.B.mount + '/sessions', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_token: member.token }),
    });
    await res.body.dump();
    assert.equal(res.statusCode, 204);
    await fleet.rejectedWithin(fleet.C, member, BOUND_MS);
    await fleet.assertNoCredentialInRedis();
    assert.deepEqual(fleet.leakedIn(fleet.output()), [], 'a gateway printed a credential');
  });
});
