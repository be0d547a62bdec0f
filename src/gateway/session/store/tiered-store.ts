/**
 * The fleet's shared session store: an in-process MemorySessionStore (L1, synchronous `get`)
 * in front of Redis (L2). It composes the parts under redis/: the connection and whether it is
 * up (connection.ts), misses, the fill lock and the revalidation claim (fill-lock.ts), and
 * invalidations with their outboxes (invalidations.ts), over the scripts of scripts.ts.
 *
 * Redis is never on the hot path: a hit is L1 alone, and every Redis command a request waits for
 * is bounded by `timeoutMs`. While Redis is unreachable the store serves from L1 with lifetimes
 * capped at `degradedTtlCapMs` (invalidations from elsewhere may be missed meanwhile) and
 * queues its own invalidations for when Redis is back.
 *
 * The purge race is guarded once per tier: in Redis by the purge markers KEEP checks (for the
 * whole fleet), in this process by L1's record of every purge, this instance's own and those
 * heard from the fleet (MemorySessionStore.keep).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../log.js';
import { MemorySessionStore, type MemorySessionStoreOptions } from './memory-store.js';
import type {
  PurgeRecord,
  RevalidationClaim,
  SessionInvalidationListener,
  SessionStore,
  SlowTierLoad,
  StoredValue,
} from './session-store.js';
import type { SummaryShape } from './redis/stored-value-codec.js';
import { RedisConnection } from './redis/connection.js';
import { FillLocks, PURGE_MARGIN_MS, waitChannelOf } from './redis/fill-lock.js';
import { RedisInvalidations } from './redis/invalidations.js';

export { PURGE_MARGIN_MS };

export interface SharedCacheEvents {
  /** Redis became reachable (true) or unreachable (false). */
  up(up: boolean): void;
  /** An invalidation was published to the fleet, or received from another instance. */
  invalidation(direction: 'published' | 'received'): void;
}

export interface RedisSessionStoreOptions {
  /** `redis://` or `rediss://` (TLS); user and password may be in it. */
  url: string;
  /** Overrides a password in the URL (session_cache.shared.password_file). */
  password?: string;
  keyPrefix: string;
  /**
   * Which value paths this gateway's summaries carry (a fingerprint): values written by a
   * gateway extracting other paths are misses here (stored-value-codec.ts). Default: any paths.
   */
  summaryShape?: SummaryShape;
  /** The most a caller waits for any one Redis command. */
  timeoutMs: number;
  /** While Redis is unreachable, L1 lifetimes are capped at this (and at memory.ttlCapMs). */
  degradedTtlCapMs: number;
  /** Bounds the fill lock and how long another instance's fill is waited for. */
  whoamiTimeoutMs: number;
  /** The in-process tier. */
  memory: Omit<MemorySessionStoreOptions, 'bus'>;
  logger?: Logger;
  events?: SharedCacheEvents;
  /** Invalidations kept while Redis is unreachable, replayed when it is back (oldest dropped past this, keys and identities each). */
  outboxMax?: number;
  /** How often both connections are pinged to notice a Redis that hangs without closing them. */
  heartbeatMs?: number;
}

/** The fill lock outlives the whoami timeout by this, so a crashed holder frees it soon after. */
const LOCK_SLACK_MS = 500;

export class RedisSessionStore implements SessionStore {
  private readonly l1: MemorySessionStore;
  private readonly conn: RedisConnection;
  private readonly fills: FillLocks;
  private readonly invalidations: RedisInvalidations;
  private readonly degradedCapMs: number;

  constructor(opts: RedisSessionStoreOptions) {
    this.l1 = new MemorySessionStore(opts.memory);
    const l1 = this.l1;
    const p = opts.keyPrefix;
    const origin = randomBytes(12).toString('base64url');
    const waitChannel = waitChannelOf(p, origin);
    const degradedCapMs = Math.max(1, Math.min(opts.degradedTtlCapMs, opts.memory.ttlCapMs));
    this.degradedCapMs = degradedCapMs;
    const lockTtlMs = opts.whoamiTimeoutMs + LOCK_SLACK_MS;
    // A marker must outlive every miss that began before it; KEEP refuses misses older than this.
    const markerTtlMs = lockTtlMs + PURGE_MARGIN_MS + 1_000;
    const filledChannel = p + 'filled';
    const invalidateChannel = p + 'invalidate';
    this.conn = new RedisConnection(
      { ...opts, origin, channels: [invalidateChannel, filledChannel, waitChannel], degradedTtlCapMs: degradedCapMs },
      {
        up: () => {
          opts.events?.up(true);
          this.invalidations.flush();
        },
        down: () => {
          // Invalidations from elsewhere may be missed from now on: nothing held here outlives the cap.
          l1.capRemainingTtl(degradedCapMs);
          // Misses waiting for another instance's fill go on to ask Kratos.
          this.fills.wakeAll();
          opts.events?.up(false);
        },
        message: (channel, message) => {
          if (channel === filledChannel) this.fills.onFilled(message);
          else if (channel === waitChannel) this.fills.onWaiting(message);
          else if (channel === invalidateChannel) this.invalidations.onMessage(message);
        },
        queued: () => this.invalidations.queued,
      },
    );
    const conn = this.conn;
    this.fills = new FillLocks(
      {
        cmd: conn.cmd,
        get up() {
          return conn.up;
        },
        get upSince() {
          return conn.upSince;
        },
        mark: () => l1.purges.mark(),
        keepHere: (k, v, ttl, steady, mark) => l1.keep(k, v, steady ? ttl : Math.min(ttl, degradedCapMs), mark),
      },
      {
        keyPrefix: p,
        origin,
        filledChannel,
        timeoutMs: opts.timeoutMs,
        whoamiTimeoutMs: opts.whoamiTimeoutMs,
        lockTtlMs,
        markerTtlMs,
        ttlCapMs: opts.memory.ttlCapMs,
        summaryShape: opts.summaryShape,
      },
    );
    this.invalidations = new RedisInvalidations(conn, {
      keyPrefix: p,
      origin,
      markerTtlMs,
      outboxMax: opts.outboxMax,
      logger: opts.logger,
      counted: opts.events && ((direction) => opts.events!.invalidation(direction)),
    });
    // The fleet's invalidations take L1's own path: recorded, dropped, told to the listeners.
    this.invalidations.subscribe((inv) => l1.receive(inv));
  }

  /** Whether Redis is reachable, this store subscribed and its user permitted (the kratos_gateway_shared_cache_up gauge). */
  get up(): boolean {
    return this.conn.up;
  }

  get size(): number {
    return this.l1.size;
  }

  get purges(): PurgeRecord {
    return this.l1.purges;
  }

  get(key: string): StoredValue | undefined {
    return this.l1.get(key);
  }

  /** Drops an entry from this process's tier only, telling nobody (tests, diagnostics). */
  dropKey(key: string): void {
    this.l1.dropKey(key);
  }

  /** Keeps a value in this process only: the shared tier takes answers through a load's `keep`, which is guarded against purges. */
  set(key: string, value: StoredValue, ttlMs: number): void {
    this.l1.set(key, value, this.conn.up ? ttlMs : Math.min(ttlMs, this.degradedCapMs));
  }

  delete(key: string): Promise<void> {
    const invalidation = { key };
    this.l1.invalidate(invalidation);
    return this.invalidations.publish(invalidation).then(() => undefined);
  }

  purgeIdentity(identityId: string): Promise<number> {
    const invalidation = { identityId };
    const here = this.l1.invalidate(invalidation);
    return this.invalidations.publish(invalidation).then((shared) => Math.max(here, shared ?? 0));
  }

  subscribe(listener: SessionInvalidationListener): () => void {
    return this.l1.subscribe(listener);
  }

  load(key: string): Promise<SlowTierLoad> {
    return this.fills.load(key);
  }

  claimRevalidation(key: string, checkedAtMs: number, forMs: number): Promise<RevalidationClaim> {
    return this.fills.claim(key, checkedAtMs, forMs);
  }

  async close(): Promise<void> {
    if (this.conn.closed) return;
    this.conn.close();
    this.fills.close();
    this.invalidations.close();
    await this.l1.close();
  }
}
