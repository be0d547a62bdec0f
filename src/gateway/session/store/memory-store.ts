import { LRUCache } from 'lru-cache';
import { entryBytes } from '../entry-size.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import type { SessionSummary } from '../session-summary.js';
import type { InvalidationChannel, InvalidationReceiver } from './invalidation-channel.js';
import { PurgeLog } from './purge-log.js';
import { identityScope } from '../cache-key.js';
import {
  NOT_A_SESSION,
  type RevalidationClaim,
  type SessionInvalidation,
  type SessionInvalidationListener,
  type SessionStore,
  type SlowTierLoad,
  type StoredValue,
} from './session-store.js';

const DONE: Promise<void> = Promise.resolve();

/** Keys of one identity kept in an array up to this many; a Set beyond. */
const FEW_KEYS = 8;

export interface MemorySessionStoreOptions {
  /** Sessions kept at most (the negative LRU holds a tenth of this, at least 1,000). */
  maxEntries: number;
  /** Estimated retained bytes of sessions kept at most (entry-size.ts). */
  maxBytes: number;
  /** No session is kept longer than this, whatever `set` asks. */
  ttlCapMs: number;
  /** No negative entry is kept longer than this, whatever `set` asks. */
  negativeTtlMs: number;
  /** Negative entries kept at most; default a tenth of maxEntries, at least 1,000. */
  negativeMaxEntries?: number;
  /**
   * How this store's delete/purgeIdentity reach the other caches without a shared tier (the
   * other stores of this process, the other processes of this gateway), and theirs reach it.
   */
  bus?: InvalidationChannel;
  /** How often expired entries are swept out (default 1 s; 0: never, only `sweep()`). */
  sweepIntervalMs?: number;
  /** Entries looked at per sweep batch (default 500): what bounds how long one batch holds the event loop. */
  sweepBatch?: number;
  /** The clock entries age by (tests); default performance.now. */
  clock?: { now(): number };
}

/**
 * The in-process store: an LRU of sessions bounded by count and bytes, a separate smaller LRU
 * of negative entries (a flood of invalid tokens can never evict valid sessions), and an
 * identity id → keys index for purges. Everything is synchronous (`load` and
 * `claimRevalidation` only hand back a ticket, in a promise as the interface has it).
 *
 * Expired entries are swept out in the background, in bounded batches (ExpirySweeper), so
 * memory follows the sessions in use rather than the bounds: lru-cache alone drops an expired
 * entry only when it is asked for again or evicted.
 *
 * Every purge, its own or one from elsewhere, is recorded (PurgeLog): a session handed to a
 * load's `keep` (or to `keep`) is refused when a purge of its key or identity came after it
 * was asked for. This is the purge-race guard of the process, the shared store's first tier included.
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions: LRUCache<string, SessionSummary>;
  private readonly negative: LRUCache<string, true>;
  /**
   * identity id → the key of its session held in `sessions`, or the keys when it has several
   * (an array while few, a Set past that).
   */
  private readonly keysByIdentity = new Map<string, string | string[] | Set<string>>();
  private readonly sweeper: ExpirySweeper;
  private readonly listeners = new Set<SessionInvalidationListener>();
  private readonly bus: InvalidationChannel | undefined;
  /** This store as a member of `bus`. */
  private readonly receiver: InvalidationReceiver = (inv) => this.receive(inv);
  private readonly leaveBus: (() => void) | undefined;
  /** The purges this store has seen, which its loads' answers are checked against. */
  readonly purges = new PurgeLog();

  constructor(opts: MemorySessionStoreOptions) {
    // An injected clock is read on every check: lru-cache otherwise reuses one reading for 1 ms.
    const clock = opts.clock === undefined ? {} : { perf: opts.clock, ttlResolution: 0 };
    this.sessions = new LRUCache<string, SessionSummary>({
      max: opts.maxEntries,
      maxSize: opts.maxBytes,
      sizeCalculation: (v, key) => entryBytes(key, v),
      ttl: Math.max(1, opts.ttlCapMs),
      updateAgeOnGet: false,
      allowStale: false,
      dispose: (v, key) => this.unindex(identityScope(key, v.identityId), key),
      ...clock,
    });
    this.negative = new LRUCache<string, true>({
      max: opts.negativeMaxEntries ?? Math.max(1_000, Math.floor(opts.maxEntries / 10)),
      ttl: Math.max(1, opts.negativeTtlMs),
      updateAgeOnGet: false,
      allowStale: false,
      ...clock,
    });
    this.bus = opts.bus;
    this.leaveBus = opts.bus?.subscribe(this.receiver);
    this.sweeper = new ExpirySweeper([this.sessions, this.negative], opts.sweepBatch ?? 500, opts.sweepIntervalMs ?? 1_000);
  }

  /**
   * Removes expired entries now, in batches of `sweepBatch` (oldest first): what the background
   * sweep does every `sweepIntervalMs`. Returns how many were removed.
   */
  sweep(): number {
    return this.sweeper.sweepAll();
  }

  get size(): number {
    return this.sessions.size + this.negative.size;
  }

  get bytes(): number {
    return this.sessions.calculatedSize;
  }

  /** Entries by kind, for tests and diagnostics. */
  get sizes(): { sessions: number; negative: number; bytes: number; identities: number } {
    return {
      sessions: this.sessions.size,
      negative: this.negative.size,
      bytes: this.sessions.calculatedSize,
      identities: this.keysByIdentity.size,
    };
  }

  get(key: string): StoredValue | undefined {
    const session = this.sessions.get(key);
    if (session !== undefined) return session;
    return this.negative.has(key) ? NOT_A_SESSION : undefined;
  }

  set(key: string, value: StoredValue, ttlMs: number): void {
    const ttl = Math.max(1, ttlMs);
    if (value === NOT_A_SESSION) {
      // A credential is one or the other: a new answer replaces the old one.
      this.sessions.delete(key);
      this.negative.set(key, true, { ttl: Math.min(ttl, this.negative.ttl) });
      return;
    }
    const session = value as SessionSummary;
    this.negative.delete(key);
    this.sessions.set(key, session, { ttl: Math.min(ttl, this.sessions.ttl) });
    // Indexed only once actually held: an entry too big for maxBytes is refused by the LRU.
    if (this.sessions.peek(key) === session) this.index(identityScope(key, session.identityId), key);
  }

  /**
   * Keeps an answer asked at `mark` (purges.mark()) unless a purge of its key or, for a
   * session, its identity came since; returns whether it was kept. "Not a session" is always
   * kept: a purge never needs an entry to say less than that.
   */
  keep(key: string, value: StoredValue, ttlMs: number, mark: number): boolean {
    if (value !== NOT_A_SESSION) {
      const purges = this.purges;
      const identity = identityScope(key, (value as SessionSummary).identityId);
      if (purges.keyPurgedSince(mark, key) || purges.identityPurgedSince(mark, identity)) return false;
    }
    this.set(key, value, ttlMs);
    return true;
  }

  /** No slower tier: nothing is found, and the answer is kept through the purge guard. */
  load(key: string): Promise<SlowTierLoad> {
    return Promise.resolve(this.ticket(key));
  }

  /** This process is the only one holding the entry: it always re-checks it itself. */
  claimRevalidation(key: string): Promise<RevalidationClaim> {
    return Promise.resolve({ outcome: 'claimed', load: this.ticket(key) });
  }

  /** Resolves once the bus's other members have it (a cluster bus confirms across processes). */
  delete(key: string): Promise<void> {
    const invalidation = { key };
    this.invalidate(invalidation);
    return this.bus === undefined ? DONE : this.bus.publish(invalidation, this.receiver).then(() => undefined);
  }

  /** Resolves with the entries dropped here, once the bus's other members have the purge. */
  purgeIdentity(identityId: string): Promise<number> {
    const invalidation = { identityId };
    const n = this.invalidate(invalidation);
    return this.bus === undefined ? Promise.resolve(n) : this.bus.publish(invalidation, this.receiver).then(() => n);
  }

  subscribe(listener: SessionInvalidationListener): () => void {
    // Wrapped: the same function subscribed twice is two subscriptions.
    const l: SessionInvalidationListener = (inv) => listener(inv);
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  async close(): Promise<void> {
    this.sweeper.stop();
    this.leaveBus?.();
    this.sessions.clear();
    this.negative.clear();
    this.keysByIdentity.clear();
    this.listeners.clear();
  }

  /**
   * A delete or purge from elsewhere (the bus, or the shared tier of a store using this one as
   * its first): applied here, then told to listeners. Returns the sessions dropped.
   */
  receive(invalidation: SessionInvalidation): number {
    const dropped = this.invalidate(invalidation);
    for (const l of [...this.listeners]) l(invalidation);
    return dropped;
  }

  /** A purge here only (recorded, entries dropped; no bus, no listeners). Returns the sessions dropped. */
  invalidate(invalidation: SessionInvalidation): number {
    this.purges.record(invalidation);
    const before = this.sessions.size;
    if ('key' in invalidation) this.dropKey(invalidation.key);
    else this.dropIdentity(invalidation.identityId);
    return before - this.sessions.size;
  }

  /** Removes one entry here only, as an eviction would (no purge recorded, nobody told): tests, diagnostics. */
  dropKey(key: string): void {
    this.sessions.delete(key);
    this.negative.delete(key);
  }

  /** Removes an identity's sessions here only, as evictions would, and returns how many. */
  dropIdentity(identityId: string): number {
    const keys = this.keysByIdentity.get(identityId);
    if (keys === undefined) return 0;
    const all = typeof keys === 'string' ? [keys] : [...keys]; // a copy: dispose edits the index
    for (const key of all) this.sessions.delete(key); // dispose unindexes
    this.keysByIdentity.delete(identityId);
    return all.length;
  }

  /**
   * Shortens every entry's remaining lifetime to at most `ms` (none is lengthened): when a
   * shared tier becomes unreachable, what is held here may miss invalidations from then on.
   */
  capRemainingTtl(ms: number): void {
    const ttl = Math.max(1, ms);
    // Snapshots, least recently used first: `set` moves an entry to the most-recent end, so
    // walking the live list would visit moved entries again, and lru-cache's cached clock makes
    // a just-set entry's remaining TTL read above `ttl`: the walk would never end (two entries
    // were enough to spin the event loop forever). Oldest first keeps the LRU order.
    for (const key of [...this.sessions.rkeys()]) {
      const v = this.sessions.peek(key);
      // Re-setting the same value keeps its index entry (no dispose) and restarts its clock at `ttl`.
      if (v !== undefined && this.sessions.getRemainingTTL(key) > ttl) this.sessions.set(key, v, { ttl });
    }
    for (const key of [...this.negative.rkeys()]) {
      if (this.negative.getRemainingTTL(key) > ttl) this.negative.set(key, true, { ttl });
    }
  }

  private ticket(key: string): SlowTierLoad {
    const mark = this.purges.mark();
    return { found: undefined, keep: (value, ttlMs) => void this.keep(key, value, ttlMs, mark), release: () => {} };
  }

  // Most identities have one session cached: its key alone, not a Set (~150 bytes) around it.
  // A Set only past FEW_KEYS, where scanning an array would cost more than the Set's table.
  private index(identityId: string, key: string): void {
    const keys = this.keysByIdentity.get(identityId);
    if (keys === undefined) this.keysByIdentity.set(identityId, key);
    else if (typeof keys === 'string') {
      if (keys !== key) this.keysByIdentity.set(identityId, [keys, key]);
    } else if (keys instanceof Set) keys.add(key);
    else if (!keys.includes(key)) {
      if (keys.length < FEW_KEYS) keys.push(key);
      else this.keysByIdentity.set(identityId, new Set([...keys, key]));
    }
  }

  private unindex(identityId: string, key: string): void {
    const keys = this.keysByIdentity.get(identityId);
    if (keys === undefined) return;
    if (typeof keys === 'string') {
      if (keys === key) this.keysByIdentity.delete(identityId);
      return;
    }
    if (keys instanceof Set) keys.delete(key);
    else {
      const i = keys.indexOf(key);
      if (i !== -1) keys.splice(i, 1);
    }
    const left = keys instanceof Set ? keys.size : keys.length;
    if (left === 0) this.keysByIdentity.delete(identityId);
    else if (left === 1) this.keysByIdentity.set(identityId, keys.values().next().value!);
  }
}
