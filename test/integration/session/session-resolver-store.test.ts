/**
 * SessionResolver over the SessionStore seam: what the store sees (hashed keys only), hits
 * answered from the store without Kratos, invalidations from elsewhere taking the purge path,
 * and an optional slower tier (`load`) asked once per key on a miss, before Kratos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayMetrics } from '../../../src/observability/metrics.js';
import { credentialExtractors, type Credential } from '../../../src/gateway/pipeline/credentials/index.js';
import { MemorySessionStore } from '../../../src/gateway/session/store/memory-store.js';
import { LocalInvalidationBus } from '../../../src/gateway/session/store/local-invalidations.js';
import { SessionResolver } from '../../../src/gateway/session/session-resolver.js';
import { NOT_A_SESSION, type SessionStore, type StoredValue } from '../../../src/gateway/session/store/session-store.js';
import { startFakeKratos } from '../../helpers/servers.js';
import { summary } from '../../unit/gateway/session/session-store-contract.js';

const cache = {
  enabled: true,
  maxEntries: 1_000,
  maxBytes: 1_000_000,
  ttlCapMs: 600_000,
  negativeTtlMs: 600_000,
  honourCacheForHeader: true,
};
const memory = (bus?: LocalInvalidationBus) =>
  new MemorySessionStore({ maxEntries: 1_000, maxBytes: 1_000_000, ttlCapMs: 600_000, negativeTtlMs: 600_000, ...(bus && { bus }) });
const tokenHeader = credentialExtractors('ory_kratos_session')[0]!;
const cred = (value: string): Credential => ({ source: tokenHeader, value });

function resolver(kratosUrl: string, store: SessionStore): SessionResolver {
  return new SessionResolver({
    kratosPublicUrl: kratosUrl,
    whoamiTimeoutMs: 2_000,
    connections: 4,
    cache,
    valuePaths: [],
    metrics: new GatewayMetrics(() => 0),
    store,
  });
}

/** Records every key and call the resolver makes on the store. */
class SpyStore implements SessionStore {
  readonly calls: string[] = [];
  readonly keys = new Set<string>();
  constructor(readonly inner: SessionStore) {}
  get size() {
    return this.inner.size;
  }
  get(key: string) {
    this.calls.push('get');
    this.keys.add(key);
    return this.inner.get(key);
  }
  set(key: string, value: StoredValue, ttlMs: number) {
    this.calls.push('set');
    this.keys.add(key);
    this.inner.set(key, value, ttlMs);
  }
  delete(key: string) {
    this.calls.push('delete');
    this.keys.add(key);
    return this.inner.delete(key);
  }
  purgeIdentity(id: string) {
    this.calls.push('purgeIdentity');
    return this.inner.purgeIdentity(id);
  }
  subscribe(l: Parameters<SessionStore['subscribe']>[0]) {
    return this.inner.subscribe(l);
  }
  close() {
    return this.inner.close();
  }
}

test('the store sees only hashed keys; a hit is answered from it without Kratos', async () => {
  const kratos = await startFakeKratos();
  const spy = new SpyStore(memory());
  const r = resolver(kratos.url, spy);
  try {
    const { token, identityId } = kratos.addSession();
    const first = await r.resolve(cred(token));
    assert.equal(first.status, 'authenticated');
    const second = await r.resolve(cred(token));
    assert.deepEqual(second, { status: 'authenticated', session: (first as { session: unknown }).session });
    assert.equal(kratos.state.calls, 1);
    assert.deepEqual(spy.calls, ['get', 'set', 'get']);
    assert.deepEqual([...spy.keys], [r.cacheKey(cred(token))]);
    for (const k of spy.keys) assert.ok(!k.includes(token), 'never the raw credential');
    assert.equal(await r.purgeIdentity(identityId), 1);
    assert.equal(r.size, 0);
  } finally {
    await r.close();
    await kratos.close();
  }
});

test('an identity purged on another instance is asked again here, and an answer in flight during it is not kept', async () => {
  const kratos = await startFakeKratos();
  const bus = new LocalInvalidationBus();
  const here = resolver(kratos.url, memory(bus));
  const elsewhere = resolver(kratos.url, memory(bus));
  try {
    const { token, identityId } = kratos.addSession();
    await here.resolve(cred(token));
    await elsewhere.resolve(cred(token));
    assert.equal(kratos.state.calls, 2);
    assert.equal(await elsewhere.purgeIdentity(identityId), 1);
    assert.equal(here.size, 0, 'dropped here by the invalidation');
    await here.resolve(cred(token));
    assert.equal(kratos.state.calls, 3);

    // In flight here while the identity is purged elsewhere: answered, never kept.
    await here.purgeIdentityOf(cred(token));
    kratos.state.fault = { kind: 'delay', ms: 200 };
    const inFlight = here.resolve(cred(token));
    await sleep(50);
    await elsewhere.purgeIdentity(identityId);
    assert.equal((await inFlight).status, 'authenticated', 'the request from before the purge takes the answer');
    assert.equal(here.size, 0, 'but the answer is not kept');
  } finally {
    await here.close();
    await elsewhere.close();
    await kratos.close();
  }
});

test("a key invalidated elsewhere detaches this instance's whoami for it: the next caller does not join it", async () => {
  const kratos = await startFakeKratos();
  const bus = new LocalInvalidationBus();
  const here = resolver(kratos.url, memory(bus));
  const elsewhere = resolver(kratos.url, memory(bus));
  try {
    const { token } = kratos.addSession();
    kratos.state.fault = { kind: 'delay', ms: 150 };
    const first = here.resolve(cred(token));
    await sleep(30);
    await elsewhere.purgeIdentityOf(cred(token)); // nothing cached there: a key invalidation only
    const second = here.resolve(cred(token));
    assert.equal((await first).status, 'authenticated');
    assert.equal((await second).status, 'authenticated');
    assert.equal(kratos.state.calls, 2, 'the second caller asked Kratos itself');
    assert.equal(here.size, 1, 'only the answer asked after the invalidation is kept');
  } finally {
    await here.close();
    await elsewhere.close();
    await kratos.close();
  }
});

test('a slower tier (load) is asked once for concurrent misses, before Kratos, and its answers are used', async () => {
  const kratos = await startFakeKratos();
  const l1 = memory();
  const l2 = new Map<string, StoredValue>();
  let loads = 0;
  const tiered: SessionStore = {
    get: (k) => l1.get(k),
    set: (k, v, ttl) => {
      l1.set(k, v, ttl);
      l2.set(k, v);
    },
    delete: (k) => {
      l2.delete(k);
      return l1.delete(k);
    },
    purgeIdentity: (id) => l1.purgeIdentity(id),
    subscribe: (l) => l1.subscribe(l),
    load: async (k) => {
      loads++;
      await sleep(20);
      const value = l2.get(k);
      const keep = (v: StoredValue, ttl: number) => tiered.set(k, v, ttl);
      if (value === undefined) return { found: undefined, keep, release: () => {} };
      l1.set(k, value, 60_000);
      return { found: { value, ttlMs: 60_000 }, keep, release: () => {} };
    },
    get size() {
      return l1.size;
    },
    close: () => l1.close(),
  };
  const r = resolver(kratos.url, tiered);
  try {
    const { token } = kratos.addSession();
    const key = r.cacheKey(cred(token));
    l2.set(key, summary('from-l2'));
    l2.set(r.cacheKey(cred('bad-token')), NOT_A_SESSION);
    const answers = await Promise.all([r.resolve(cred(token)), r.resolve(cred(token)), r.resolve(cred(token))]);
    for (const a of answers) assert.equal(a.status === 'authenticated' && a.session.identityId, 'from-l2');
    assert.equal(loads, 1);
    assert.equal(kratos.state.calls, 0);
    assert.equal((await r.resolve(cred('bad-token'))).status, 'unauthenticated');
    assert.equal(kratos.state.calls, 0);

    const other = kratos.addSession();
    const fresh = await r.resolve(cred(other.token));
    assert.equal(fresh.status === 'authenticated' && fresh.session.identityId, other.identityId);
    assert.equal(kratos.state.calls, 1, 'a miss in both tiers asks Kratos');
    assert.equal((l2.get(r.cacheKey(cred(other.token))) as { identityId: string }).identityId, other.identityId, 'and keeps the answer');
  } finally {
    await r.close();
    await kratos.close();
  }
});
