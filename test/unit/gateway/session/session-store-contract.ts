/**
 * The contract every SessionStore keeps, as a suite any implementation runs:
 *
 *   describeSessionStore('memory', { create: () => new MemorySessionStore({...}) });
 *
 * `create` gives a fresh, empty store that keeps at least 100 sessions and 100 negative
 * entries for at least a minute. `createPair`, when the store can carry invalidations between
 * instances, gives two stores sharing their entries' fate (two gateways on one Redis).
 * Deliveries may be asynchronous: the suite waits for them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NOT_A_SESSION, type SessionInvalidation, type SessionStore } from '../../../../src/gateway/session/store/session-store.js';
import type { SessionSummary } from '../../../../src/gateway/session/session-summary.js';

export interface SessionStoreFactory {
  create(): SessionStore | Promise<SessionStore>;
  createPair?(): [SessionStore, SessionStore] | Promise<[SessionStore, SessionStore]>;
}

const MINUTE = 60_000;

export function summary(identityId: string, sessionId = 's-' + identityId, values: Record<string, string> = {}): SessionSummary {
  return { identityId, sessionId, expiresAtMs: Date.now() + 3_600_000, values: new Map(Object.entries(values)) };
}

/** `ms` bounds how long the test waits, not how fast the store must be. */
async function waitFor(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function describeSessionStore(name: string, factory: SessionStoreFactory): void {
  describe(`SessionStore contract: ${name}`, () => {
    const withStore = (fn: (store: SessionStore) => Promise<void> | void) => async () => {
      const store = await factory.create();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    test(
      'an unknown key is a miss',
      withStore((store) => {
        assert.equal(store.get('nope'), undefined);
        assert.equal(store.size, 0);
      }),
    );

    test(
      'a session comes back as it was set, synchronously',
      withStore((store) => {
        const s = summary('id-1', 'sess-1', { 'identity.traits.email': 'a@example.org' });
        store.set('k1', s, MINUTE);
        const got = store.get('k1');
        assert.ok(got !== undefined && !(got instanceof Promise), 'get answers without a promise');
        assert.deepEqual(got, s);
      }),
    );

    test(
      'a negative entry comes back as the NOT_A_SESSION marker itself',
      withStore((store) => {
        store.set('bad', NOT_A_SESSION, MINUTE);
        assert.equal(store.get('bad'), NOT_A_SESSION);
      }),
    );

    test(
      'a new answer for a key replaces the old one, negative or not',
      withStore(async (store) => {
        store.set('k', NOT_A_SESSION, MINUTE);
        store.set('k', summary('id-1'), MINUTE);
        assert.equal((store.get('k') as SessionSummary).identityId, 'id-1');
        store.set('k', NOT_A_SESSION, MINUTE);
        assert.equal(store.get('k'), NOT_A_SESSION);
        assert.equal(await store.purgeIdentity('id-1'), 0, 'the replaced session is no longer indexed');
        assert.equal(store.get('k'), NOT_A_SESSION);
      }),
    );

    test(
      'entries expire after the TTL given to set',
      withStore(async (store) => {
        // Long enough that a loaded machine does not lapse it between these synchronous lines.
        store.set('pos', summary('id-1'), 1_000);
        store.set('neg', NOT_A_SESSION, 1_000);
        store.set('long', summary('id-2'), MINUTE);
        assert.ok(store.get('pos') !== undefined && store.get('neg') !== undefined);
        await sleep(1_100);
        assert.equal(store.get('pos'), undefined);
        assert.equal(store.get('neg'), undefined);
        assert.equal((store.get('long') as SessionSummary).identityId, 'id-2');
      }),
    );

    test(
      'delete removes one entry, positive or negative',
      withStore(async (store) => {
        store.set('pos', summary('id-1'), MINUTE);
        store.set('neg', NOT_A_SESSION, MINUTE);
        store.set('other', summary('id-1', 's2'), MINUTE);
        void store.delete('pos');
        void store.delete('neg');
        await store.delete('never-set');
        assert.equal(store.get('pos'), undefined);
        assert.equal(store.get('neg'), undefined);
        assert.ok(store.get('other') !== undefined);
        assert.equal(await store.purgeIdentity('id-1'), 1, 'a deleted session is no longer indexed');
      }),
    );

    test(
      'purgeIdentity removes every session of that identity and only those',
      withStore(async (store) => {
        store.set('a1', summary('id-a', 's1'), MINUTE);
        store.set('a2', summary('id-a', 's2'), MINUTE);
        store.set('a3', summary('id-a', 's3'), MINUTE);
        store.set('b1', summary('id-b'), MINUTE);
        store.set('neg', NOT_A_SESSION, MINUTE);
        assert.equal(await store.purgeIdentity('id-a'), 3);
        for (const k of ['a1', 'a2', 'a3']) assert.equal(store.get(k), undefined);
        assert.equal((store.get('b1') as SessionSummary).identityId, 'id-b');
        assert.equal(store.get('neg'), NOT_A_SESSION, 'negative entries belong to no identity');
        assert.equal(await store.purgeIdentity('id-a'), 0);
        assert.equal(await store.purgeIdentity('unknown'), 0);
      }),
    );

    test(
      'size counts sessions and negative entries held',
      withStore((store) => {
        store.set('a', summary('id-a'), MINUTE);
        store.set('b', summary('id-b'), MINUTE);
        store.set('n', NOT_A_SESSION, MINUTE);
        assert.equal(store.size, 3);
        store.set('a', summary('id-a'), MINUTE);
        assert.equal(store.size, 3, 'setting a key again is not a new entry');
        void store.delete('n');
        void store.purgeIdentity('id-b');
        assert.equal(store.size, 1, 'gone before the promises settle');
      }),
    );

    test(
      "a store's own delete and purge are never echoed to its listeners",
      withStore(async (store) => {
        const heard: SessionInvalidation[] = [];
        const unsubscribe = store.subscribe((i) => heard.push(i));
        store.set('a', summary('id-a'), MINUTE);
        await store.delete('a');
        store.set('b', summary('id-b'), MINUTE);
        await store.purgeIdentity('id-b');
        await sleep(100); // an echo through a shared tier would have arrived by now
        assert.deepEqual(heard, []);
        assert.equal(typeof unsubscribe, 'function');
        unsubscribe();
        unsubscribe(); // twice is harmless
      }),
    );

    if (factory.createPair === undefined) return;
    const createPair = factory.createPair.bind(factory);

    test('a delete or purge on one instance reaches the other: entries dropped, then its listeners told', async () => {
      const [a, b] = await createPair();
      try {
        const heardA: SessionInvalidation[] = [];
        const heardB: { inv: SessionInvalidation; stillThere: boolean }[] = [];
        a.subscribe((i) => heardA.push(i));
        b.subscribe((inv) => heardB.push({ inv, stillThere: 'key' in inv ? b.get(inv.key) !== undefined : false }));
        b.set('k1', summary('id-1', 's1'), MINUTE);
        b.set('k2', summary('id-1', 's2'), MINUTE);
        b.set('k3', summary('id-3'), MINUTE);
        await a.delete('k3');
        await waitFor(() => heardB.length === 1, 'the key invalidation');
        assert.deepEqual(heardB[0], { inv: { key: 'k3' }, stillThere: false });
        assert.equal(b.get('k3'), undefined);
        await a.purgeIdentity('id-1');
        await waitFor(() => heardB.length === 2, 'the identity invalidation');
        assert.deepEqual(heardB[1]!.inv, { identityId: 'id-1' });
        assert.equal(b.get('k1'), undefined);
        assert.equal(b.get('k2'), undefined);
        assert.deepEqual(heardA, [], 'the sender hears nothing of its own');
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('an unsubscribed listener hears nothing more', async () => {
      const [a, b] = await createPair();
      try {
        const heard: SessionInvalidation[] = [];
        const kept: SessionInvalidation[] = [];
        const off = b.subscribe((i) => heard.push(i));
        b.subscribe((i) => kept.push(i));
        off();
        await a.purgeIdentity('id-x');
        await waitFor(() => kept.length === 1, 'the other listener');
        assert.deepEqual(heard, []);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
