/**
 * The shared session tier across "instances" (resolvers with their own RedisSessionStore) on
 * one real redis-server: L2 hits, purge fan-out, fleet-wide coalescing of a new credential,
 * and purges overtaking whoamis in flight never leaving a stale session in Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeKratos } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { cred, instance, sharedSession, waitFor, type Instance } from './shared-helpers.js';

let redis: TestRedis & { close(): Promise<void> };
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
  kratos = await startFakeKratos();
});
after(async () => {
  await redis.close();
  await kratos.close();
});

async function fleet(n: number, o: { whoamiTimeoutMs?: number; revalidateAfterMs?: number } = {}): Promise<Instance[] & AsyncDisposable> {
  const keyPrefix = `kg-shared-${++prefixes}:`;
  const all = await Promise.all(Array.from({ length: n }, () => instance({ redisUrl: redis.url, kratosUrl: kratos.url, keyPrefix, ...o })));
  return Object.assign(all, {
    async [Symbol.asyncDispose]() {
      await Promise.all(all.map((i) => i.resolver.close()));
    },
  });
}

const keyOf = (i: Instance, token: string) => i.resolver.cacheKey(cred(token));

test('a session asked by one instance is an L2 hit on another: no second whoami, same summary', async () => {
  await using f = await fleet(2);
  const [a, b] = f;
  kratos.state.fault = { kind: 'normal' };
  const { token, identityId } = kratos.addSession({ traits: { email: 'l2@example.org' } });
  const before = kratos.state.calls;
  const first = await a!.resolver.resolve(cred(token));
  assert.equal(first.status, 'authenticated');
  const second = await b!.resolver.resolve(cred(token));
  assert.equal(second.status === 'authenticated' && second.session.identityId, identityId);
  assert.equal(kratos.state.calls - before, 1, 'B was answered from Redis');
  assert.ok(first.status === 'authenticated' && second.status === 'authenticated');
  const s1 = first.session;
  const s2 = second.session;
  assert.equal(s2.values.get('identity.traits.email'), 'l2@example.org');
  assert.equal(s2.checkedAtMs, s1.checkedAtMs, 'the answer keeps its age through Redis');
  assert.equal(b!.store.size, 1, 'and B keeps it in its L1');
  assert.equal((await b!.resolver.resolve(cred(token))).status, 'authenticated');
  assert.equal(kratos.state.calls - before, 1);
  // A "not a session" is not shared (a flood of bogus tokens would write one key each): each
  // instance asks once, then answers from its own negative cache.
  assert.equal((await a!.resolver.resolve(cred('not-a-session'))).status, 'unauthenticated');
  assert.equal((await b!.resolver.resolve(cred('not-a-session'))).status, 'unauthenticated');
  assert.equal((await b!.resolver.resolve(cred('not-a-session'))).status, 'unauthenticated');
  assert.equal(kratos.state.calls - before, 3);
});

test('a purge on one instance reaches the others (L1 dropped, L2 deleted) and is awaited until Redis has it', async () => {
  await using f = await fleet(3);
  const [a, b, c] = f;
  kratos.state.fault = { kind: 'normal' };
  const one = kratos.addSession();
  const two = kratos.addSession();
  for (const i of f) {
    await i.resolver.resolve(cred(one.token));
    await i.resolver.resolve(cred(two.token));
  }
  for (const i of f) assert.equal(i.store.size, 2);

  // By identity (the admin purge): awaited, then every instance drops it.
  const t0 = performance.now();
  const purged = await b!.resolver.purgeIdentity(one.identityId);
  const acceptedMs = performance.now() - t0;
  assert.equal(purged, 1);
  assert.equal(b!.store.size, 1, 'gone here before the promise settled');
  await waitFor(() => a!.store.size === 1 && c!.store.size === 1, 'A and C to drop the identity');
  const ms = performance.now() - t0;
  assert.equal(await redis.command('EXISTS', 'kg-shared-' + prefixes + ':s:' + keyOf(a!, one.token)), ':0\r\n', 'gone from Redis');
  // Revoked at Kratos: the next request anywhere asks Kratos again and is refused.
  kratos.sessions.get(one.token)!.active = false;
  for (const i of f) assert.equal((await i.resolver.resolve(cred(one.token))).status, 'unauthenticated');

  // By credential (logout through the mount): the key and its identity.
  const before = kratos.state.calls;
  await c!.resolver.purgeIdentityOf(cred(two.token));
  await waitFor(
    () => a!.store.get(keyOf(a!, two.token)) === undefined && b!.store.get(keyOf(b!, two.token)) === undefined,
    'the key purge',
  );
  assert.equal((await a!.resolver.resolve(cred(two.token))).status, 'authenticated');
  assert.equal(kratos.state.calls - before, 1, 'asked again after the purge');
  assert.equal(await c!.metric('kratos_gateway_invalidations_total{direction="published"}'), 2, 'the key and its identity');
  assert.equal(await a!.metric('kratos_gateway_invalidations_total{direction="received"}'), 3);
  console.log(
    `# identity purge: accepted by Redis after ${acceptedMs.toFixed(1)} ms, dropped on both other instances after ${ms.toFixed(1)} ms`,
  );
});

test('300 concurrent first requests of one credential over 3 instances cost one whoami for the fleet', async () => {
  await using f = await fleet(3);
  const { token, identityId } = kratos.addSession();
  kratos.state.fault = { kind: 'delay', ms: 200 };
  const before = kratos.state.calls;
  try {
    const all = await Promise.all(Array.from({ length: 300 }, (_, n) => f[n % 3]!.resolver.resolve(cred(token))));
    for (const r of all) assert.equal(r.status === 'authenticated' && r.session.identityId, identityId);
  } finally {
    kratos.state.fault = { kind: 'normal' };
  }
  const calls = kratos.state.calls - before;
  console.log(`# whoami calls for 300 concurrent first requests over 3 instances: ${calls}`);
  assert.ok(calls <= 3, `at most one per instance, got ${calls}`);
  assert.equal(calls, 1, 'one for the fleet');
});

test('a holder that gets no answer to share (Kratos down) lets the waiters ask Kratos themselves', async () => {
  // A lock left behind would hold a waiter for whoami_timeout_ms: 30 s, far from a prompt release.
  await using f = await fleet(2, { whoamiTimeoutMs: 30_000 });
  const { token } = kratos.addSession();
  kratos.state.fault = { kind: 'status', status: 503 };
  const before = kratos.state.calls;
  try {
    const [ra, rb] = await Promise.all([f[0]!.resolver.resolve(cred(token)), f[1]!.resolver.resolve(cred(token))]);
    assert.equal(ra.status, 'unavailable');
    assert.equal(rb.status, 'unavailable');
  } finally {
    kratos.state.fault = { kind: 'normal' };
  }
  assert.ok(kratos.state.calls - before <= 2);
  const started = Date.now();
  assert.equal((await f[1]!.resolver.resolve(cred(token))).status, 'authenticated', 'no lock left behind');
  assert.ok(Date.now() - started < 15_000, 'the failed holder released its lock');
});

test('a whoami in flight when another instance purges its identity never writes the stale answer to Redis', async () => {
  await using f = await fleet(3);
  const [a, b, c] = f;
  const { token, identityId } = kratos.addSession();
  const key = `kg-shared-${prefixes}:s:` + keyOf(a!, token);
  kratos.state.fault = { kind: 'delay', ms: 300 };
  try {
    // By identity, from an instance that never saw the session (the admin purge).
    const inFlight = a!.resolver.resolve(cred(token));
    await sleep(100);
    await b!.resolver.purgeIdentity(identityId);
    assert.equal((await inFlight).status, 'authenticated', 'the request from before the purge takes the answer');
    await sleep(50);
    assert.equal(await sharedSession(redis, key), undefined, 'but it is not shared');
    // By key (a logout elsewhere), again while A's whoami is in flight.
    a!.store.dropKey(a!.resolver.cacheKey(cred(token)));
    const again = a!.resolver.resolve(cred(token));
    await sleep(100);
    await c!.resolver.purgeIdentityOf(cred(token));
    await again;
    await sleep(50);
    assert.equal(await sharedSession(redis, key), undefined);
  } finally {
    kratos.state.fault = { kind: 'normal' };
  }
  // A whoami that starts after the purges is shared again (once the margin has passed).
  await sleep(1_100);
  a!.store.dropKey(a!.resolver.cacheKey(cred(token)));
  await a!.resolver.resolve(cred(token));
  // Written after the answer: waited for (bounded), not slept on.
  let shared = '';
  for (const until = Date.now() + 30_000; !/"identityId"/.test(shared) && Date.now() < until; await sleep(10))
    shared = (await sharedSession(redis, key)) ?? '';
  assert.match(shared, /"identityId"/);
});

test('revalidate_after_ms across the fleet: an old entry is re-checked once for all instances, and a revocation at Kratos reaches every one', async () => {
  // Long enough that the 15 requests below fall in one re-check period on a busy machine.
  const REVALIDATE_MS = 2_000;
  await using f = await fleet(3, { revalidateAfterMs: REVALIDATE_MS });
  const { token } = kratos.addSession();
  // Cached everywhere: asked once (A), then L2 hits (B, C).
  for (const i of f) assert.equal((await i.resolver.resolve(cred(token))).status, 'authenticated');
  const before = kratos.state.calls;
  await sleep(REVALIDATE_MS + 50);
  // Every instance serves the old entry at once and starts its background re-check.
  for (let round = 0; round < 5; round++) for (const i of f) assert.equal((await i.resolver.resolve(cred(token))).status, 'authenticated');
  await waitFor(() => kratos.state.calls - before >= 1, 'the background re-check');
  await sleep(200);
  assert.equal(kratos.state.calls - before, 1, 'one re-check for the fleet');
  const revalidations = async (i: Instance, outcome: string) =>
    (await i.metric(`kratos_gateway_session_revalidations_total{outcome="${outcome}"}`)) ?? 0;
  // Each instance's claim runs in the background: wait for the two that lost it (bounded).
  let elsewhere = 0;
  for (const until = Date.now() + 30_000; elsewhere < 2 && Date.now() < until; await sleep(20)) {
    elsewhere = 0;
    for (const i of f) elsewhere += await revalidations(i, 'elsewhere');
  }
  assert.equal(elsewhere, 2, 'the two others saw it claimed');

  // Revoked at Kratos itself: no gateway purges. Within the bound, every instance rejects it.
  kratos.sessions.delete(token);
  const revokedAt = Date.now();
  const rejected = async (i: Instance) => (await i.resolver.resolve(cred(token))).status === 'unauthenticated';
  for (;;) {
    const all = await Promise.all(f.map(rejected));
    if (all.every(Boolean)) break;
    // Far below ttl_cap_ms, which is when it would be rejected without the re-check.
    assert.ok(Date.now() - revokedAt < 2 * REVALIDATE_MS + 20_000, `every instance rejects within the bound (${all})`);
    await sleep(20);
  }
});

test('a session carrying a Kratos-signed JWT (tokenize_as) is kept in process only, never written to Redis', async () => {
  await using f = await fleet(1);
  const store = f[0]!.store;
  const keyPrefix = `kg-shared-${prefixes}:`;
  const shared = async (key: string) => ((await sharedSession(redis, keyPrefix + 's:' + key)) === undefined ? 'no' : 'yes');
  const summary = {
    identityId: 'id-1',
    sessionId: 'sid-1',
    expiresAtMs: Date.now() + 60_000,
    checkedAtMs: Date.now(),
    values: new Map<string, string>(),
  };
  const plain = await store.load('plain-key');
  plain.keep(summary, 30_000);
  plain.release();
  const jwt = {
    jwt: 'eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.c2ln',
    expiresAtMs: Date.now() + 60_000,
    keepUntilMs: Date.now() + 45_000,
  };
  const tokenized = await store.load('tokenized-key');
  tokenized.keep({ ...summary, tokenized: jwt }, 30_000);
  tokenized.release();
  await waitFor(() => store.get('tokenized-key') !== undefined, 'the in-process entry');
  await sleep(100);
  assert.equal(await shared('plain-key'), 'yes', 'a plain summary is shared');
  assert.equal(await shared('tokenized-key'), 'no', 'the JWT-carrying one is not');
});
