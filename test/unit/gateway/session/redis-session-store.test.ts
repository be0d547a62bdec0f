/**
 * RedisSessionStore against a real redis-server: the SessionStore contract (one store, and two
 * sharing one Redis), what it writes to Redis, and the codec round trip.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../../../src/gateway/session/redis-session-store.js';
import { NOT_A_SESSION } from '../../../../src/gateway/session/session-store.js';
import { decodeStoredValue, encodeStoredValue } from '../../../../src/gateway/session/stored-value-codec.js';
import type { SessionSummary } from '../../../../src/gateway/session/session-summary.js';
import { startRedis, type TestRedis } from '../../../helpers/redis.js';
import { describeSessionStore, summary } from './session-store-contract.js';

let redis: TestRedis & { close(): Promise<void> };
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.close();
});

async function upStore(o: Partial<RedisSessionStoreOptions> & { keyPrefix: string }): Promise<RedisSessionStore> {
  const store = new RedisSessionStore({
    url: redis.url,
    timeoutMs: 500,
    degradedTtlCapMs: 5_000,
    whoamiTimeoutMs: 2_000,
    memory: { maxEntries: 1_000, maxBytes: 1_000_000, ttlCapMs: 600_000, negativeTtlMs: 600_000 },
    ...o,
  });
  const until = Date.now() + 5_000;
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
  assert.deepEqual(decodeStoredValue(encodeStoredValue(s)), s);
  const forever = { ...summary('id-2'), expiresAtMs: Number.POSITIVE_INFINITY };
  assert.deepEqual(decodeStoredValue(encodeStoredValue(forever)), forever);
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
