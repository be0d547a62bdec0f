import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySessionStore, type MemorySessionStoreOptions } from '../../../../src/gateway/session/store/memory-store.js';
import { LocalInvalidationBus } from '../../../../src/gateway/session/store/local-invalidations.js';
import { NOT_A_SESSION, type SessionInvalidation } from '../../../../src/gateway/session/store/session-store.js';
import type { SessionSummary } from '../../../../src/gateway/session/session-summary.js';
import { entryBytes } from '../../../../src/gateway/session/entry-size.js';
import { describeSessionStore, summary } from './session-store-contract.js';

const defaults: MemorySessionStoreOptions = { maxEntries: 1_000, maxBytes: 1_000_000, ttlCapMs: 600_000, negativeTtlMs: 600_000 };
const store = (o: Partial<MemorySessionStoreOptions> = {}) => new MemorySessionStore({ ...defaults, ...o });

describeSessionStore('MemorySessionStore', {
  create: () => store(),
  createPair: () => {
    const bus = new LocalInvalidationBus();
    return [store({ bus }), store({ bus })];
  },
});

test('no session outlives ttlCapMs and no negative entry negativeTtlMs, whatever set asks', async () => {
  const s = store({ ttlCapMs: 40, negativeTtlMs: 40 });
  s.set('pos', summary('id-1'), 600_000);
  s.set('neg', NOT_A_SESSION, 600_000);
  await sleep(80);
  assert.equal(s.get('pos'), undefined);
  assert.equal(s.get('neg'), undefined);
  assert.equal(s.sizes.identities, 0, 'an expired session leaves the identity index once it is seen gone');
});

test('negative entries live in their own LRU: a flood of them never evicts a session', () => {
  const s = store({ maxEntries: 100 });
  for (let i = 0; i < 50; i++) s.set('good' + i, summary('id-' + i), 600_000);
  for (let i = 0; i < 20_000; i++) s.set('bad' + i, NOT_A_SESSION, 600_000);
  assert.equal(s.sizes.sessions, 50);
  assert.equal(s.sizes.negative, 1_000, 'bounded: a tenth of maxEntries, at least 1,000');
  for (let i = 0; i < 50; i++) assert.equal((s.get('good' + i) as SessionSummary).identityId, 'id-' + i);
  assert.equal(s.get('bad19999'), NOT_A_SESSION);
  assert.equal(s.get('bad0'), undefined, 'the oldest negative entries are the ones evicted');
  assert.equal(s.size, 1_050);
});

test('the negative LRU bound follows maxEntries and can be set', () => {
  const big = store({ maxEntries: 50_000 });
  for (let i = 0; i < 6_000; i++) big.set('bad' + i, NOT_A_SESSION, 600_000);
  assert.equal(big.sizes.negative, 5_000);
  const small = store({ negativeMaxEntries: 10 });
  for (let i = 0; i < 30; i++) small.set('bad' + i, NOT_A_SESSION, 600_000);
  assert.equal(small.sizes.negative, 10);
});

test('sessions are bounded by maxEntries; an evicted session leaves the identity index', () => {
  const s = store({ maxEntries: 3 });
  for (let i = 0; i < 5; i++) s.set('k' + i, summary('id-' + i), 600_000);
  assert.equal(s.sizes.sessions, 3);
  assert.equal(s.sizes.identities, 3);
  assert.equal(s.get('k0'), undefined);
  assert.equal(s.dropIdentity('id-0'), 0);
  assert.equal(s.dropIdentity('id-4'), 1);
});

test('sessions are bounded by maxBytes (estimated entry bytes); one too big for it is neither kept nor indexed', () => {
  const one = summary('id-1', 's1', { 'identity.traits.email': 'a@example.org' });
  const entry = entryBytes('k1', one);
  const s = store({ maxBytes: entry * 2 });
  s.set('k1', one, 600_000);
  assert.equal(s.sizes.bytes, entry);
  s.set('k2', summary('id-1', 's2', { 'identity.traits.email': 'b@example.org' }), 600_000);
  s.set('k3', summary('id-1', 's3', { 'identity.traits.email': 'c@example.org' }), 600_000);
  assert.equal(s.sizes.sessions, 2, 'the least recently used went to make room');
  assert.ok(s.sizes.bytes <= entry * 2);
  s.set('huge', summary('id-huge', 'sh', { 'identity.traits.bio': 'x'.repeat(entry * 3) }), 600_000);
  assert.equal(s.get('huge'), undefined);
  assert.equal(s.dropIdentity('id-huge'), 0);
  assert.equal(s.sizes.sessions, 2, 'a refused entry evicts nothing');
});

test('alone, the memory store never emits invalidations; from a bus it drops first, then tells its listeners', () => {
  const bus = new LocalInvalidationBus();
  const a = store({ bus });
  const b = store({ bus });
  const lonely = store();
  const heard: { from: string; inv: SessionInvalidation; gone: boolean }[] = [];
  lonely.subscribe((inv) => heard.push({ from: 'lonely', inv, gone: true }));
  a.subscribe((inv) => heard.push({ from: 'a', inv, gone: true }));
  b.subscribe((inv) => heard.push({ from: 'b', inv, gone: 'key' in inv ? b.get(inv.key) === undefined : b.sizes.identities === 0 }));
  lonely.set('k', summary('id-1'), 600_000);
  void lonely.purgeIdentity('id-1');
  void lonely.delete('k');
  b.set('k', summary('id-1'), 600_000);
  b.set('n', NOT_A_SESSION, 600_000);
  void a.purgeIdentity('id-1');
  void a.delete('n');
  assert.deepEqual(heard, [
    { from: 'b', inv: { identityId: 'id-1' }, gone: true },
    { from: 'b', inv: { key: 'n' }, gone: true },
  ]);
  assert.equal(b.size, 0);
});

test('a closed store leaves its bus and holds nothing', async () => {
  const bus = new LocalInvalidationBus();
  const a = store({ bus });
  const b = store({ bus });
  const heard: SessionInvalidation[] = [];
  b.subscribe((i) => heard.push(i));
  b.set('k', summary('id-1'), 600_000);
  await b.close();
  assert.equal(b.size, 0);
  void a.purgeIdentity('id-1');
  assert.deepEqual(heard, []);
});

test('the identity index holds one key, a few, or many (a Set past eight), and every form purges', () => {
  const s = store();
  s.set('one', summary('id-one'), 600_000);
  for (let i = 0; i < 3; i++) s.set(`few${i}`, summary('id-few', `s${i}`), 600_000);
  for (let i = 0; i < 20; i++) s.set(`many${i}`, summary('id-many', `s${i}`), 600_000);
  assert.equal(s.sizes.identities, 3);
  // Removing keys one by one shrinks each form back; the identity goes with its last key.
  for (let i = 0; i < 19; i++) s.dropKey(`many${i}`);
  s.dropKey('few0');
  assert.equal(s.sizes.identities, 3);
  assert.equal(s.dropIdentity('id-many'), 1);
  assert.equal(s.dropIdentity('id-few'), 2);
  assert.equal(s.dropIdentity('id-one'), 1);
  assert.deepEqual(s.sizes, { sessions: 0, negative: 0, bytes: 0, identities: 0 });
  // Set again after the purge: indexed afresh.
  for (let i = 0; i < 12; i++) s.set(`again${i}`, summary('id-many', `t${i}`), 600_000);
  s.set('again0', summary('id-many', 't0'), 600_000);
  assert.equal(s.dropIdentity('id-many'), 12);
  assert.equal(s.size, 0);
});
