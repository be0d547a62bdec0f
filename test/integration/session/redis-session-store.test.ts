/**
 * RedisSessionStore against a real redis-server: the SessionStore contract (one store, and two
 * sharing one Redis), what it writes to Redis, and the codec round trip.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../../src/gateway/session/store/tiered-store.js';
import { NOT_A_SESSION } from '../../../src/gateway/session/store/session-store.js';
import { decodeStoredValue, encodeStoredValue } from '../../../src/gateway/session/store/redis/stored-value-codec.js';
import type { SessionSummary } from '../../../src/gateway/session/session-summary.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { describeSessionStore, summary } from '../../unit/gateway/session/session-store-contract.js';
import { plainSummary } from '../../unit/gateway/session/plain-summary.js';

let redis: TestRedis & { close(): Promise<void> };
let prefixes = 0;
/** How long a test waits for something that takes milliseconds when healthy (a loaded machine). */
const WAIT_MS = 30_000;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.close();
});

async function upStore(o: Partial<RedisSessionStoreOptions> & { keyPrefix: string }): Promise<RedisSessionStore> {
  const store = new RedisSessionStore({
    url: redis.url,
    // Far above a healthy round trip on a loaded machine: past it a load goes on without Redis,
    // which these tests would read as a missing lock or value.
    timeoutMs: 5_000,
    degradedTtlCapMs: 5_000,
    whoamiTimeoutMs: 2_000,
    memory: { maxEntries: 1_000, maxBytes: 1_000_000, ttlCapMs: 600_000, negativeTtlMs: 600_000 },
    ...o,
  });
  const until = Date.now() + WAIT_MS;
  while (!store.up) {
    if (Date.now() > until) assert.fail('the store did not connect to Redis');
    await sleep(5);
  }
  return store;
}

describeSessionStore('RedisSessionStore', {
  create: () => upStore({ keyPrefix: `kg-contract-${++prefixes}:` }),
  createPair: async () => {
    const keyPrefix = `kg-contract-${++prefixes}:`;
    return [await upStore({ keyPrefix }), await upStore({ keyPrefix })];
  },
});

test('a summary survives the codec whole; anything else decodes to a miss', () => {
  const s: SessionSummary = {
    identityId: 'id-1',
    sessionId: 'sess-1',
    expiresAtMs: Date.now() + 1_000,
    checkedAtMs: Date.now(),
    values: new Map([['identity.traits.email', 'a@example.org']]),
    claims: new Map([['identity.traits.roles', ['admin', 'dev']]]),
    aal: 2,
    authenticatedAtMs: 1_700_000_000_000,
    schemaId: 'default',
    verifiedAddresses: new Set(['a@example.org']),
  };
  assert.deepEqual(plainSummary(decodeStoredValue(encodeStoredValue(s))), plainSummary(s));
  const forever = { ...summary('id-2'), expiresAtMs: Number.POSITIVE_INFINITY };
  assert.deepEqual(plainSummary(decodeStoredValue(encodeStoredValue(forever))), plainSummary(forever));
  assert.equal(decodeStoredValue(encodeStoredValue(NOT_A_SESSION)), NOT_A_SESSION);
  for (const bad of [
    '',
    'null',
    '{}',
    '{"v":2,"negative":true}',
    '{"v":1,"identityId":"x"}',
    '{"v":1,"identityId":"x","sessionId":"s","expiresAtMs":null,"values":[[1,2]]}',
  ])
    assert.equal(decodeStoredValue(bad), undefined, bad);
});

let settles = 0;
/**
 * Resolves once Redis has run every command `store` sent before: one more round trip on the same
 * connection (Redis runs one connection's commands in order). For answers refused in Redis,
 * where there is nothing to wait for.
 */
async function settled(store: RedisSessionStore): Promise<void> {
  (await store.load(`settle-${++settles}`)).release();
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const end = Date.now() + WAIT_MS; !(await check()); await sleep(10))
    if (Date.now() > end) assert.fail(`timed out after ${WAIT_MS} ms waiting for ${what}`);
}

test('an answer is written to Redis only if no purge of its key or identity came after its miss began', async () => {
  const keyPrefix = `kg-guard-${++prefixes}:`;
  const a = await upStore({ keyPrefix });
  const b = await upStore({ keyPrefix });
  const exists = async (key: string) => (await redis.command('EXISTS', keyPrefix + 's:' + key)) === ':1\r\n';
  try {
    // No purge: stored, with the TTL asked for.
    const plain = await a.load('k-plain');
    assert.equal(plain.found, undefined);
    plain.keep(summary('id-plain'), 30_000);
    plain.release();
    // Waited for, not slept on: the first KEEP may also load its script into Redis.
    await until(() => exists('k-plain'), 'k-plain in Redis');
    const pttl = Number((await redis.command('PTTL', keyPrefix + 's:k-plain')).slice(1));
    assert.ok(pttl > 20_000 && pttl <= 30_000, `PTTL ${pttl}`);
    assert.equal((await b.load('k-plain')).found?.ttlMs !== undefined, true, 'another instance finds it');

    // Its identity purged elsewhere while the whoami was in flight: refused.
    const byIdentity = await a.load('k-id');
    await b.purgeIdentity('id-racing');
    byIdentity.keep(summary('id-racing'), 30_000);
    await settled(a);
    assert.equal(await exists('k-id'), false);

    // Its key purged elsewhere: the purge deleted the fill lock, so the answer is refused.
    const byKey = await a.load('k-key');
    await b.delete('k-key');
    byKey.keep(summary('id-key'), 30_000);
    await settled(a);
    assert.equal(await exists('k-key'), false);

    // "Not a session" is never written: only the fill lock is there, and it lapses.
    const negative = await a.load('k-neg');
    negative.keep(NOT_A_SESSION, 30_000);
    negative.release();
    await settled(a);
    assert.match(await redis.command('GET', keyPrefix + 's:k-neg'), /^\$\d+\r\nfill /);
    assert.ok(
      Number((await redis.command('PTTL', keyPrefix + 's:k-neg')).slice(1)) <= 2_500,
      'the lock lapses after whoami_timeout_ms + 500',
    );

    // Purged before the miss began, but within the clock margin: refused; after it: stored.
    await b.purgeIdentity('id-later');
    const soon = await a.load('k-later');
    soon.keep(summary('id-later'), 30_000);
    await settled(a);
    assert.equal(await exists('k-later'), false, 'within PURGE_MARGIN_MS');
    await sleep(1_050);
    const later = await a.load('k-later');
    later.keep(summary('id-later'), 30_000);
    await settled(a);
    assert.ok(await exists('k-later'));
    assert.equal(await b.purgeIdentity('id-later'), 1, 'indexed under its identity: the purge counts it');
    assert.equal(await exists('k-later'), false);
  } finally {
    await a.close();
    await b.close();
  }
});

test('the fill lock: the first miss holds it, a concurrent miss elsewhere waits and is handed the answer', async () => {
  const keyPrefix = `kg-lock-${++prefixes}:`;
  // A waiter not woken waits whoami_timeout_ms: at its maximum, far from a prompt wake-up.
  const a = await upStore({ keyPrefix, whoamiTimeoutMs: 60_000 });
  const b = await upStore({ keyPrefix, whoamiTimeoutMs: 60_000 });
  try {
    const holder = await a.load('k');
    assert.equal(holder.found, undefined);
    assert.match(await redis.command('GET', keyPrefix + 's:k'), /^\$\d+\r\nfill /, 'the lock is where the value will be');
    const waiting = b.load('k');
    await sleep(100);
    holder.keep(summary('id-1'), 30_000);
    holder.release();
    const got = await waiting;
    assert.equal((got.found?.value as SessionSummary).identityId, 'id-1');
    assert.match(await redis.command('GET', keyPrefix + 's:k'), /"identityId":"id-1"/, 'the lock replaced by the answer');
    // Released without an answer: the waiter goes on at once and asks itself.
    const second = await a.load('k2');
    const waiting2 = b.load('k2');
    await sleep(50);
    second.release();
    const got2 = await Promise.race([
      waiting2,
      sleep(WAIT_MS).then(() => assert.fail(`not woken by the release within ${WAIT_MS} ms (the lock lapses after 60.5 s)`)),
    ]);
    assert.equal(got2.found, undefined);
    got2.release();
  } finally {
    await a.close();
    await b.close();
  }
});

test('an ACL user confined to the prefix and the listed commands is enough for everything the store does', async () => {
  const keyPrefix = 'kg-acl:';
  const acl = await redis.command(
    'ACL',
    'SETUSER',
    'kg',
    'reset',
    'on',
    '>acl-pw',
    `~${keyPrefix}*`,
    `&${keyPrefix}*`,
    '+evalsha',
    '+eval',
    '+ping',
    '+subscribe',
    '+time',
    '+get',
    '+set',
    '+del',
    '+pttl',
    '+pexpire',
    '+sadd',
    '+smembers',
    '+publish',
  );
  assert.match(acl, /^\+OK/);
  const url = `redis://kg:acl-pw@127.0.0.1:${redis.port}`;
  const a = await upStore({ keyPrefix, url });
  const b = await upStore({ keyPrefix, url });
  try {
    const heard: unknown[] = [];
    b.subscribe((i) => heard.push(i));
    const holder = await a.load('k');
    const waiter = b.load('k');
    await sleep(20);
    holder.keep(summary('id-acl'), 30_000);
    holder.release();
    assert.equal(((await waiter).found?.value as SessionSummary).identityId, 'id-acl');
    assert.equal(await a.purgeIdentity('id-acl'), 1);
    await a.delete('k');
    await until(async () => heard.length >= 2, 'both invalidations heard');
    assert.deepEqual(heard, [{ identityId: 'id-acl' }, { key: 'k' }]);
    assert.equal(await redis.command('ACL', 'LOG', '1'), '*0\r\n', 'no command or key was refused');
  } finally {
    await a.close();
    await b.close();
  }
});
