/** The session cache's fan-out across processes: what goes out, what comes in, what it counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcInvalidationBus } from '../../../src/cluster/ipc-invalidations.js';
import { MemorySessionStore } from '../../../src/gateway/session/store/memory-store.js';
import type { SessionInvalidation } from '../../../src/gateway/session/store/session-store.js';
import type { SessionSummary } from '../../../src/gateway/session/session-summary.js';

const summary = (identityId: string): SessionSummary => ({
  identityId,
  sessionId: 's-' + identityId,
  expiresAtMs: Date.now() + 60_000,
  values: new Map(),
});
const store = (bus: IpcInvalidationBus) =>
  new MemorySessionStore({ maxEntries: 100, maxBytes: 1_000_000, ttlCapMs: 60_000, negativeTtlMs: 1_000, bus });

test("a store's delete and purge go out once each; the store's own purge is not handed back to it", async () => {
  const sent: SessionInvalidation[] = [];
  const bus = new IpcInvalidationBus((inv) => (sent.push(inv), Promise.resolve(0)));
  const s = store(bus);
  const heard: SessionInvalidation[] = [];
  s.subscribe((inv) => heard.push(inv));
  s.set('k1', summary('alice'), 60_000);
  await s.delete('k1');
  assert.equal(await s.purgeIdentity('alice'), 0);
  assert.deepEqual(sent, [{ key: 'k1' }, { identityId: 'alice' }]);
  assert.deepEqual(heard, []);
});

test('an invalidation from another process drops the entries, tells the listeners and counts the sessions dropped', () => {
  const sent: SessionInvalidation[] = [];
  const bus = new IpcInvalidationBus((inv) => (sent.push(inv), Promise.resolve(0)));
  const s = store(bus);
  const heard: SessionInvalidation[] = [];
  s.subscribe((inv) => heard.push(inv));
  s.set('a1', summary('alice'), 60_000);
  s.set('a2', summary('alice'), 60_000);
  s.set('b1', summary('bob'), 60_000);
  assert.equal(bus.deliver({ identityId: 'alice' }), 2);
  assert.equal(s.get('a1'), undefined);
  assert.equal(s.get('a2'), undefined);
  assert.notEqual(s.get('b1'), undefined);
  assert.equal(bus.deliver({ key: 'b1' }), 1);
  assert.equal(s.get('b1'), undefined);
  assert.deepEqual(heard, [{ identityId: 'alice' }, { key: 'b1' }]);
  // Received, not re-published: the primary relays, a worker never echoes.
  assert.deepEqual(sent, []);
});

test('a closed store leaves the bus', async () => {
  const bus = new IpcInvalidationBus(() => Promise.resolve(0));
  const s = store(bus);
  s.set('a1', summary('alice'), 60_000);
  await s.close();
  assert.equal(bus.deliver({ identityId: 'alice' }), 0);
});

test("publish hands back the other processes' confirmation, which the admin purge finds by invalidation", async () => {
  let confirm!: (n: number) => void;
  const bus = new IpcInvalidationBus(() => new Promise<number>((r) => (confirm = r)));
  const s = store(bus);
  s.set('a1', summary('alice'), 60_000);
  let settled = false;
  const purged = s.purgeIdentity('alice').then((n) => ((settled = true), n));
  const pending = bus.confirmation({ identityId: 'alice' });
  assert.ok(pending !== undefined);
  assert.equal(bus.confirmation({ identityId: 'bob' }), undefined);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'the store purge waits for the other processes');
  confirm(3);
  assert.equal(await pending, 3);
  assert.equal(await purged, 1, 'then resolves with what it dropped here');
  await new Promise((r) => setImmediate(r));
  // Settled: forgotten, so a later admin purge never reads an old count.
  assert.equal(bus.confirmation({ identityId: 'alice' }), undefined);
});
