/**
 * The memory store's identity index (memory-session-store.ts keeps one key bare, a few in an
 * array, a Set past eight) against a model: whatever mix of sets (keys reused by another
 * identity), deletes, expiries, sweeps and count or byte evictions came before, a purge of an
 * identity leaves none of its sessions to be served, and never one of another identity's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemorySessionStore } from '../../../../src/gateway/session/store/memory-store.js';
import { NOT_A_SESSION } from '../../../../src/gateway/session/store/session-store.js';
import type { SessionSummary } from '../../../../src/gateway/session/session-summary.js';
import { summary } from './session-store-contract.js';

const KEYS = Array.from({ length: 12 }, (_, i) => `k${i}`);
const IDS = ['a', 'b', 'c'];

type Op =
  | { op: 'set'; key: string; id: string; ttl: number; pad: number }
  | { op: 'negative'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'purge'; id: string }
  | { op: 'tick'; ms: number }
  | { op: 'sweep' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key: fc.constantFrom(...KEYS),
      // Mostly one identity, so its keys reach every form of the index (a Set past eight).
      id: fc.constantFrom('a', 'a', 'a', 'a', 'b', 'c'),
      ttl: fc.constantFrom(5, 50, 10_000),
      pad: fc.constantFrom(0, 200, 900),
    }),
  },
  fc.record({ op: fc.constant('negative' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ op: fc.constant('purge' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.constantFrom(1, 10, 100) }),
  fc.record({ op: fc.constant('sweep' as const) }),
);

test('a purge drops every session of the identity, after any mix of reuse, expiry, sweeps and evictions', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { maxLength: 120 }),
      fc.constantFrom([4, 4_000], [100, 1_000_000]),
      async (ops, [maxEntries, maxBytes]) => {
        let now = 1_000;
        const store = new MemorySessionStore({
          maxEntries,
          maxBytes,
          ttlCapMs: 600_000,
          negativeTtlMs: 600_000,
          sweepIntervalMs: 0,
          sweepBatch: 3,
          clock: { now: () => now },
        });
        try {
          // The model: what each key was last set to (a store may have dropped it since, never served another).
          const last = new Map<string, SessionSummary | undefined>();
          for (const o of ops) {
            if (o.op === 'set') {
              const s = summary(o.id, `s-${o.key}-${o.id}`, { 'identity.traits.x': 'x'.repeat(o.pad) });
              store.set(o.key, s, o.ttl);
              last.set(o.key, s);
            } else if (o.op === 'negative') {
              store.set(o.key, NOT_A_SESSION, 10_000);
              last.set(o.key, undefined);
            } else if (o.op === 'delete') {
              await store.delete(o.key);
              last.set(o.key, undefined);
            } else if (o.op === 'purge') {
              await store.purgeIdentity(o.id);
              for (const [k, s] of last) if (s?.identityId === o.id) last.set(k, undefined);
            } else if (o.op === 'tick') now += o.ms;
            else store.sweep();
            for (const key of KEYS) {
              const got = store.get(key);
              if (got === undefined || got === NOT_A_SESSION) continue;
              assert.equal(got, last.get(key), `${key} serves only what it was last set to`);
            }
          }
          for (const id of IDS) {
            await store.purgeIdentity(id);
            for (const key of KEYS) {
              const got = store.get(key);
              if (got !== undefined && !('negative' in got)) assert.notEqual(got.identityId, id, `${key} after purging ${id}`);
            }
          }
          assert.equal(store.sizes.identities, 0, 'the index is empty once every identity is purged');
        } finally {
          await store.close();
        }
      },
    ),
    { numRuns: 300 },
  );
});
