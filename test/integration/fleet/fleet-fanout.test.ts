/**
 * The shared session cache: three real gateway processes, one identity server, one real redis-server.
 * Revocations through any instance reach every instance; settings changes reach the headers
 * everywhere; a new credential costs one whoami for the whole fleet (L2 + fleet-wide
 * coalescing); a Redis crash never takes the fleet down and fan-out comes back with Redis; and
 * no credential ever reaches Redis (keys, values, pub/sub) or the logs.
 *
 * One fleet for the whole file (processes are heavy): the tests run in order and each uses
 * its own identities.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet, PROPAGATION_BOUND_MS, SHARED_TIMEOUT_MS, send, identityHeaders, sleep, type Instance, type Member } from './fleet.js';

const BOUND_MS = PROPAGATION_BOUND_MS;
/**
 * The longest a request may take while Redis is down: what it may wait on Redis (timeout_ms)
 * plus room for a loaded machine. A gateway that waited on a dead Redis would hang until the
 * client gives up (CRASH_CALL_TIMEOUT_MS, or the 15 s default) and fail these checks.
 */
const REDIS_DOWN_BOUND_MS = SHARED_TIMEOUT_MS + 4_000;
const CRASH_CALL_TIMEOUT_MS = 10_000;
/** Entries created while Redis is down live at most this long (session_cache.shared.degraded_ttl_cap_ms). */
const DEGRADED_CAP_MS = 1_500;

describe('a fleet of three gateways on one Redis', () => {
  let fleet: Fleet;

  before(async () => {
    fleet = await Fleet.start({ sessionCache: { shared: { degraded_ttl_cap_ms: DEGRADED_CAP_MS } } });
  });
  after(async () => {
    await fleet?.close();
  });

  /** Uses `member` on every instance twice; the second round must be served from the caches alone. */
  async function warmEverywhere(member: Member): Promise<void> {
    for (const i of fleet.instances) assert.equal(await fleet.status(i, member), 200, `${i.name} accepts ${member.email}`);
    const before = await fleet.whoamiPerInstance();
    for (const i of fleet.instances) assert.equal(await fleet.status(i, member), 200);
    assert.deepEqual(await fleet.whoamiPerInstance(), before, 'the second round is served from the caches');
  }

  async function apiLogoutThrough(instance: Instance, member: Member): Promise<number> {
    const res = await send(instance.mount + '/sessions', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_token: member.token }),
    });
    await res.body.dump();
    assert.equal(res.statusCode, 204, 'the identity server revoked the session');
    return performance.now();
  }

  test('logout through A (API, session token): B and C reject the credential they had cached (bounded)', async (t) => {
    const member = await fleet.apiMember('logout-api');
    await warmEverywhere(member);
    const [publishedBefore, receivedB, receivedC] = [
      await fleet.metric(fleet.A, 'kratos_gateway_invalidations_total{direction="published"}'),
      await fleet.metric(fleet.B, 'kratos_gateway_invalidations_total{direction="received"}'),
      await fleet.metric(fleet.C, 'kratos_gateway_invalidations_total{direction="received"}'),
    ];

    const revokedAt = await apiLogoutThrough(fleet.A, member);
    assert.equal(await fleet.status(fleet.A, member), 401, 'A itself purged before answering');
    const [b, c] = await Promise.all([
      fleet.rejectedWithin(fleet.B, member, BOUND_MS, revokedAt),
      fleet.rejectedWithin(fleet.C, member, BOUND_MS, revokedAt),
    ]);
    t.diagnostic(`rejected by B after ${b.toFixed(1)} ms, by C after ${c.toFixed(1)} ms`);

    assert.ok((await fleet.metric(fleet.A, 'kratos_gateway_invalidations_total{direction="published"}')) > publishedBefore);
    assert.ok((await fleet.metric(fleet.B, 'kratos_gateway_invalidations_total{direction="received"}')) > receivedB);
    assert.ok((await fleet.metric(fleet.C, 'kratos_gateway_invalidations_total{direction="received"}')) > receivedC);
  });

  test('browser logout through A (session cookie): B and C reject the cookie (bounded)', async (t) => {
    const member = await fleet.browserMember('logout-browser');
    await warmEverywhere(member);
    const res = await send(fleet.A.mount + '/self-service/browser/flows/logout', {
      headers: { ...member.headers, accept: 'text/html' },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 302);
    const revokedAt = performance.now();
    const [b, c] = await Promise.all([
      fleet.rejectedWithin(fleet.B, member, BOUND_MS, revokedAt),
      fleet.rejectedWithin(fleet.C, member, BOUND_MS, revokedAt),
    ]);
    t.diagnostic(`cookie rejected by B after ${b.toFixed(1)} ms, by C after ${c.toFixed(1)} ms`);
  });

  test('admin purge on B after a revocation at the identity server: A and C reject (bounded)', async (t) => {
    const member = await fleet.apiMember('admin-purge');
    await warmEverywhere(member);
    await fleet.revokeAtKratos(member.identityId);
    // Without revalidation nothing tells the fleet yet: the caches still serve it (what the purge is for).
    assert.equal(await fleet.status(fleet.A, member), 200, 'A serves its cached entry until told');
    assert.equal(await fleet.status(fleet.C, member), 200, 'C serves its cached entry until told');

    const res = await send(`${fleet.B.adminUrl}/sessions/cache/identities/${member.identityId}`, { method: 'DELETE' });
    const body = (await res.body.json()) as { identity_id: string; purged: number };
    assert.equal(res.statusCode, 200);
    assert.equal(body.identity_id, member.identityId);
    const purgedAt = performance.now();
    assert.equal(await fleet.status(fleet.B, member), 401);
    const [a, c] = await Promise.all([
      fleet.rejectedWithin(fleet.A, member, BOUND_MS, purgedAt),
      fleet.rejectedWithin(fleet.C, member, BOUND_MS, purgedAt),
    ]);
    t.diagnostic(`rejected by A after ${a.toFixed(1)} ms, by C after ${c.toFixed(1)} ms`);
  });

  test('a settings change (traits) through C: A injects the new traits (bounded)', async (t) => {
    const member = await fleet.apiMember('settings', 'Ada');
    await warmEverywhere(member);
    assert.deepEqual(identityHeaders(await fleet.call(fleet.A, member.headers)), { email: member.email, first: 'Ada' });

    const init = await send(fleet.C.mount + '/self-service/settings/api', { headers: member.headers });
    const flow = (await init.body.json()) as { id: string };
    assert.equal(init.statusCode, 200);
    const submit = await send(`${fleet.C.mount}/self-service/settings?flow=${flow.id}`, {
      method: 'POST',
      headers: { ...member.headers, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'profile', traits: { email: member.email, name: { first: 'Grace' } } }),
    });
    await submit.body.dump();
    assert.equal(submit.statusCode, 200);
    const changedAt = performance.now();

    let first: unknown;
    for (let n = 0; ; n++) {
      const answer = await fleet.call(fleet.A, member.headers);
      assert.equal(answer.status, 200);
      first = identityHeaders(answer).first;
      if (first === 'Grace' || performance.now() - changedAt > BOUND_MS) {
        t.diagnostic(`A injected the new first name after ${(performance.now() - changedAt).toFixed(1)} ms (request ${n + 1})`);
        break;
      }
      await sleep(20);
    }
    assert.equal(first, 'Grace', `A still injected the old traits ${BOUND_MS} ms after the change through C`);
    assert.equal(identityHeaders(await fleet.call(fleet.B, member.headers)).first, 'Grace');
  });

  test('fleet coalescing: 300 concurrent first requests of one credential over 3 instances cost at most one whoami per instance', async (t) => {
    const member = await fleet.apiMember('coalescing');
    const before = await fleet.whoamiPerInstance();
    const kratosBefore = fleet.kratosWhoami();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, n) => fleet.call(fleet.instances[n % 3]!, member.headers)));
    const statuses = new Map<number, number>();
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    assert.deepEqual([...statuses], [[200, 300]], 'every request was let through');
    for (const a of answers) assert.equal(identityHeaders(a).email, member.email);

    const after = await fleet.whoamiPerInstance();
    const perInstance = after.map((n, i) => n - before[i]!);
    const total = perInstance.reduce((x, y) => x + y, 0);
    const atKratos = fleet.kratosWhoami() - kratosBefore;
    t.diagnostic(
      `whoami calls for 300 concurrent first requests: ${total} (${perInstance.map((n, i) => `${fleet.instances[i]!.name} ${n}`).join(', ')}; Kratos saw ${atKratos}); target 1`,
    );
    assert.ok(total >= 1, 'someone asked Kratos');
    assert.ok(
      perInstance.every((n) => n <= 1),
      `at most one whoami per instance, got ${perInstance.join(', ')}`,
    );
    assert.ok(total <= 3, `at most 3 whoami calls for the fleet, got ${total}`);
    assert.equal(atKratos, total, 'the identity server saw exactly the calls the gateways counted');
  });

  test('L2: a credential used on A, then first used on B and C, costs no whoami on B or C', async (t) => {
    const member = await fleet.apiMember('l2');
    const before = await fleet.whoamiPerInstance();
    const kratosBefore = fleet.kratosWhoami();
    assert.equal(await fleet.status(fleet.A, member), 200);
    const afterA = await fleet.whoamiPerInstance();
    assert.equal(afterA[0]! - before[0]!, 1, 'A asked Kratos once');

    const onB = await fleet.call(fleet.B, member.headers);
    const onC = await fleet.call(fleet.C, member.headers);
    assert.equal(onB.status, 200);
    assert.equal(onC.status, 200);
    assert.deepEqual(identityHeaders(onB), { email: member.email, first: 'Ada' }, 'B injects the identity from the shared summary');
    assert.deepEqual(identityHeaders(onC), { email: member.email, first: 'Ada' });
    const afterBC = await fleet.whoamiPerInstance();
    t.diagnostic(`whoami per instance for A then B then C: ${afterBC.map((n, i) => n - before[i]!).join(', ')}`);
    assert.equal(afterBC[1], afterA[1], 'B found the session in the shared cache, without a whoami');
    assert.equal(afterBC[2], afterA[2], 'C found the session in the shared cache, without a whoami');
    assert.equal(fleet.kratosWhoami() - kratosBefore, 1, 'Kratos was asked once for the whole fleet');
  });

  test('Redis holds no credential: keys are prefixed hashes, values and pub/sub messages carry no token or cookie', async () => {
    await fleet.assertNoCredentialInRedis();
  });

  test('Redis SIGKILLed: every instance keeps serving (no 5xx), gauge 0, degraded cap; Redis back: gauge 1 and fan-out again', async (t) => {
    const cached = await fleet.apiMember('redis-crash-cached');
    await warmEverywhere(cached);
    for (const i of fleet.instances)
      assert.equal(await fleet.metric(i, 'kratos_gateway_shared_cache_up'), 1, `${i.name}: gauge 1 at first`);

    // Traffic across the crash: a cached credential on every instance, bounded in count and time.
    let stop = false;
    const killed: { at?: number } = {};
    const across: Array<{ instance: string; status: number | string; ms: number; at: number }> = [];
    const traffic = (async () => {
      const end = Date.now() + 20_000;
      for (let n = 0; n < 2_000 && !stop && Date.now() < end; n++) {
        const instance = fleet.instances[n % 3]!;
        const t0 = performance.now();
        // A request that hangs is a failure to record, not a reason to stop looking.
        const a = await fleet
          .call(instance, cached.headers, '/app', CRASH_CALL_TIMEOUT_MS)
          .catch((err: Error) => ({ status: err.name, ms: performance.now() - t0 }));
        across.push({ instance: instance.name, status: a.status, ms: a.ms, at: Date.now() - (killed.at ?? Date.now()) });
        await sleep(5);
      }
    })();
    await sleep(200);
    await fleet.redis.stop();
    const stoppedAt = Date.now();
    killed.at = stoppedAt;
    await fleet.untilEvery(
      'kratos_gateway_shared_cache_up 0',
      async (i) => (await fleet.metric(i, 'kratos_gateway_shared_cache_up')) === 0,
      10_000,
    );
    t.diagnostic(`every gauge read 0 ${Date.now() - stoppedAt} ms after the kill`);

    // New credentials and refusals still work on every instance, each answered promptly.
    const fresh = await fleet.apiMember('redis-down-new');
    for (const i of fleet.instances) {
      const a = await fleet.call(i, fresh.headers);
      assert.equal(a.status, 200, `${i.name} accepts a new credential with Redis down`);
      assert.equal(identityHeaders(a).email, fresh.email);
      assert.ok(a.ms < REDIS_DOWN_BOUND_MS, `${i.name} took ${a.ms.toFixed(0)} ms`);
      const bad = await fleet.call(i, { 'x-session-token': 'not-a-session-token-redis-down' });
      assert.equal(bad.status, 401, `${i.name} still refuses an invalid token`);
      assert.ok(bad.ms < REDIS_DOWN_BOUND_MS, `${i.name} took ${bad.ms.toFixed(0)} ms`);
    }

    // Degraded cap: an entry created while Redis is unreachable is asked again after the cap.
    const degraded = await fleet.apiMember('redis-down-degraded');
    const w0 = (await fleet.whoamiPerInstance())[0]!;
    assert.equal(await fleet.status(fleet.A, degraded), 200);
    const createdAt = performance.now();
    assert.equal(await fleet.status(fleet.A, degraded), 200);
    const w1 = (await fleet.whoamiPerInstance())[0]!;
    if (performance.now() - createdAt < DEGRADED_CAP_MS / 2) assert.equal(w1 - w0, 1, 'a second request within the cap is a hit');
    await sleep(Math.max(0, createdAt + DEGRADED_CAP_MS + 700 - performance.now()));
    assert.equal(await fleet.status(fleet.A, degraded), 200);
    const w2 = (await fleet.whoamiPerInstance())[0]!;
    assert.ok(w2 > w1, `the entry created while Redis was down was not asked again after ${DEGRADED_CAP_MS} ms (ttl_cap_ms is 60 s)`);

    stop = true;
    await traffic;
    const failed = across.filter((a) => a.status !== 200);
    const slowest = Math.max(...across.map((a) => a.ms));
    t.diagnostic(`${across.length} requests across the crash, slowest ${slowest.toFixed(1)} ms`);
    assert.ok(across.length > 20, 'traffic ran across the crash');
    assert.deepEqual(failed, [], 'every request across the crash was served (at: ms after the kill)');
    assert.ok(slowest < REDIS_DOWN_BOUND_MS, `slowest request across the crash: ${slowest.toFixed(0)} ms`);

    // Redis back, gateways untouched.
    const messagesBefore = fleet.messages.length;
    await fleet.redis.start();
    const restartedAt = Date.now();
    await fleet.untilEvery(
      'kratos_gateway_shared_cache_up 1',
      async (i) => (await fleet.metric(i, 'kratos_gateway_shared_cache_up')) === 1,
      30_000,
    );
    t.diagnostic(`every gauge read 1 ${Date.now() - restartedAt} ms after the restart`);
    const again = await fleet.apiMember('redis-back');
    await warmEverywhere(again);
    const revokedAt = await apiLogoutThrough(fleet.A, again);
    const [b, c] = await Promise.all([
      fleet.rejectedWithin(fleet.B, again, BOUND_MS, revokedAt),
      fleet.rejectedWithin(fleet.C, again, BOUND_MS, revokedAt),
    ]);
    t.diagnostic(`after the restart: rejected by B after ${b.toFixed(1)} ms, by C after ${c.toFixed(1)} ms`);
    assert.ok(fleet.messages.length > messagesBefore, 'the logout was published on the restarted Redis');
    for (const i of fleet.instances) assert.equal(i.process.child.exitCode, null, `${i.name} is still running`);
  });

  test('after all that: still no credential in Redis, in any pub/sub message, or in any log line', async () => {
    await fleet.assertNoCredentialInRedis();
    assert.deepEqual(fleet.leakedIn(fleet.output()), [], 'a gateway printed a credential');
  });
});
