/**
 * Expired entries release their memory: the in-memory store sweeps them out in the background
 * (src/gateway/session/store/expiry-sweeper.ts) instead of holding them until max_entries evicts
 * them, so what it holds follows the sessions in use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySessionStore, type MemorySessionStoreOptions } from '../../../../src/gateway/session/store/memory-store.js';
import { NOT_A_SESSION } from '../../../../src/gateway/session/store/session-store.js';
import { summary } from './session-store-contract.js';

const defaults: MemorySessionStoreOptions = { maxEntries: 10_000, maxBytes: 100_000_000, ttlCapMs: 600_000, negativeTtlMs: 600_000 };
const stores: MemorySessionStore[] = [];
const store = (o: Partial<MemorySessionStoreOptions> = {}) => {
  const s = new MemorySessionStore({ ...defaults, ...o });
  stores.push(s);
  return s;
};
test.after(() => Promise.all(stores.map((s) => s.close())));

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

test('expired entries leave the store without any request touching them', async () => {
  const s = store({ ttlCapMs: 50, negativeTtlMs: 50, sweepIntervalMs: 20 });
  for (let i = 0; i < 300; i++) {
    s.set(`k${i}`, summary(`id-${i}`, `s${i}`, { 'identity.traits.email': `u${i}@example.org` }), 600_000);
    s.set(`n${i}`, NOT_A_SESSION, 600_000);
  }
  assert.deepEqual(s.sizes, { sessions: 300, negative: 300, bytes: s.sizes.bytes, identities: 300 });
  assert.ok(s.sizes.bytes > 0);
  // Nothing calls get/set from here on: only the background sweep can empty it.
  await until(() => s.size === 0, 'the store is empty');
  assert.deepEqual(s.sizes, { sessions: 0, negative: 0, bytes: 0, identities: 0 });
});

test('sweep() removes exactly the expired entries, in batches, oldest first; the rest stay indexed', () => {
  // lru-cache reads a start time of 0 as "no TTL": the clock starts later.
  let now = 1_000;
  const s = store({ ttlCapMs: 1_000, negativeTtlMs: 1_000, sweepIntervalMs: 0, sweepBatch: 7, clock: { now: () => now } });
  for (let i = 0; i < 40; i++) s.set(`short${i}`, summary(`id-short-${i}`), 300);
  for (let i = 0; i < 5; i++) s.set(`long${i}`, summary(`id-long-${i}`), 1_000);
  // Used again: now the most recently used, behind the long-lived ones.
  for (let i = 0; i < 10; i++) assert.notEqual(s.get(`short${i}`), undefined);
  s.set('neg', NOT_A_SESSION, 200);
  now += 250;
  assert.equal(s.sweep(), 1, 'only the negative entry has expired');
  assert.equal(s.size, 45);
  now += 100;
  // 40 expired entries, 7 looked at per batch, 10 of them behind live ones: all found.
  assert.equal(s.sweep(), 40);
  assert.deepEqual([s.sizes.sessions, s.sizes.negative, s.sizes.identities], [5, 0, 5]);
  for (let i = 0; i < 5; i++) assert.notEqual(s.get(`long${i}`), undefined);
  assert.equal(s.sweep(), 0, 'nothing more has expired');
  now += 1_000;
  assert.equal(s.sweep(), 5);
  assert.deepEqual(s.sizes, { sessions: 0, negative: 0, bytes: 0, identities: 0 });
});
