import type { SessionSummary } from '../session-summary.js';

/**
 * "Kratos said this credential is not a session": the negative marker a store keeps instead of
 * a summary. Compared by identity; a store that serializes values (Redis) maps it back to this
 * very object on read.
 */
export const NOT_A_SESSION: { readonly negative: true } = Object.freeze({ negative: true as const });
export type NotASession = typeof NOT_A_SESSION;

/** What claimRevalidation decided; `claimed` carries the load the answer is kept through. */
export type RevalidationClaim = { outcome: 'claimed'; load: SlowTierLoad } | { outcome: 'elsewhere' } | { outcome: 'refreshed' };

/** What a store keeps under a key: a session summary, or the negative marker. */
export type StoredValue = SessionSummary | NotASession;

/**
 * An invalidation that came from elsewhere (another gateway instance through a shared store).
 * `key`: one cache key; `identityId`: every entry of that identity.
 */
export type SessionInvalidation = { readonly key: string } | { readonly identityId: string };
export type SessionInvalidationListener = (invalidation: SessionInvalidation) => void;

/** What a slower tier gave for one miss; see SessionStore.load. */
export interface SlowTierLoad {
  /** The value held for the key with its remaining lifetime, or undefined: ask Kratos. */
  readonly found: { readonly value: StoredValue; readonly ttlMs: number } | undefined;
  /**
   * Keeps the caller's own answer, asked after this load began, like `set` does, unless a purge
   * of the key or of the session's identity came since the load began (this process's own or
   * one heard from elsewhere; with a shared tier, one anywhere in the fleet): then the answer
   * may be from before the change the purge is for, and is not kept.
   */
  keep(value: StoredValue, ttlMs: number): void;
  /** Done with this miss (after `keep`, or without an answer to keep): instances waiting on it go on. Idempotent. */
  release(): void;
}

/**
 * The store's record of purges (its own and those heard from elsewhere), as positions in the
 * order they happened: what tells a caller whether an answer it waited for was overtaken.
 */
export interface PurgeRecord {
  /** The position now: every purge recorded from here on is "since" it. */
  mark(): number;
  /** Whether the identity was purged since `mark` (also when the record no longer reaches back that far). */
  identityPurgedSince(mark: number, identityId: string): boolean;
  /**
   * Whether a purge of the identity since `mark` is on record: false when the record no longer
   * reaches back that far and has lost it. The other way round from identityPurgedSince, for
   * where "purged since" is what lets an answer through.
   */
  identityPurgeRecordedSince(mark: number, identityId: string): boolean;
}

/**
 * The session cache behind SessionResolver. Keys are the resolver's hashed cache keys
 * (SHA-256 of credential kind, value and Kratos URL), never raw credentials.
 *
 * `get` is synchronous: a cache hit costs no promise or tick. A store with a slower tier
 * (Redis as L2) answers `get` from its in-process tier and offers the slow tier as `load`,
 * which the resolver awaits only on a miss, inside the coalesced fetch (one load per key for
 * concurrent misses), before asking Kratos.
 *
 * The store keeps values, bounds them, indexes them by identity, carries invalidations, and
 * refuses an answer a purge overtook (see SlowTierLoad.keep): the purge race is guarded where
 * the purges are known. Coalescing and tracing stay in the resolver.
 */
export interface SessionStore {
  /** The value under `key` if present and unexpired (a negative entry is NOT_A_SESSION). */
  get(key: string): StoredValue | undefined;
  /**
   * Keeps `value` under `key` for at most `ttlMs` (the store may cap it lower). A session is
   * indexed under its identity id so purgeIdentity can reach it. Positive and negative entries
   * are bounded separately: negative entries can never evict sessions.
   */
  set(key: string, value: StoredValue, ttlMs: number): void;
  /**
   * Removes one entry (positive or negative); a shared store also tells the other instances.
   * The entry is gone from this process before the call returns; the promise settles once the
   * other instances can no longer miss it (a shared store: the shared tier has accepted the
   * invalidation, or gave up within its timeout and queued it for when it is back). Never rejects.
   */
  delete(key: string): Promise<void>;
  /**
   * Removes every session of an identity; a shared store tells the others. Synchronous here as
   * `delete` is; resolves (never rejects) with how many entries were removed (here, or in the
   * shared tier when it answered).
   */
  purgeIdentity(identityId: string): Promise<number>;
  /**
   * Invalidations that came from elsewhere, delivered after the store has already dropped the
   * entries from its own tiers; never the store's own delete/purgeIdentity echoed back. Returns
   * the unsubscribe function. An in-memory store alone never emits any.
   */
  subscribe(listener: SessionInvalidationListener): () => void;
  /**
   * Optional: a miss, asked on a `get` miss (once per key for concurrent misses here). A store
   * with a slower tier says what it found there (and may keep it in its fast tier). When nothing
   * usable was found the caller asks Kratos and hands the answer to `keep` (instead of `set`),
   * which refuses an answer a purge overtook; either way it calls `release` when done. A shared
   * store may make this wait (bounded by the whoami timeout) for another instance already
   * asking Kratos for the same key, so that the fleet asks once. A store without `load` keeps
   * whatever `set` is given.
   */
  load?(key: string): Promise<SlowTierLoad>;
  /**
   * Optional: who re-checks an old entry (session_cache.revalidate_after_ms), for the whole
   * fleet with a shared store. `claimed`: this instance asks Kratos and hands the answer to the
   * load's `keep` (as for a miss), then calls `release`; also the outcome whenever the shared
   * tier cannot be asked in time. `elsewhere`: another instance claimed it less than `forMs`
   * ago. `refreshed`: the shared tier already held an answer newer than `checkedAtMs`, now in
   * this store's fast tier.
   */
  claimRevalidation?(key: string, checkedAtMs: number, forMs: number): Promise<RevalidationClaim>;
  /** Optional, with `load`: the purges the store's loads are guarded by, for callers that waited on one. */
  readonly purges?: PurgeRecord;
  /** Entries held in process (positive + negative). */
  readonly size: number;
  /** Estimated bytes of the sessions held in process (what session_cache.max_bytes bounds), when the store counts them. */
  readonly bytes?: number;
  /** Drops everything held in process and releases connections. */
  close(): Promise<void>;
}
