/**
 * The fleet's shared session store: an in-process MemorySessionStore (L1, synchronous `get`)
 * in front of Redis (L2), with invalidations fanned out over Redis pub/sub and new
 * credentials coalesced fleet-wide by a short fill lock. Redis is never on the hot path: a hit
 * is L1 alone, and every Redis command a request waits for is bounded by `timeoutMs`. While
 * Redis is unreachable the store serves from L1 with lifetimes capped at `degradedTtlCapMs`
 * (invalidations from elsewhere may be missed meanwhile) and queues its own invalidations for
 * when Redis is back. See redis-scripts.ts for the keys, channels and commands used.
 */
import { randomBytes } from 'node:crypto';
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../log.js';
import { redactUrl } from '../../config/redact.js';
import { MemorySessionStore, type MemorySessionStoreOptions } from './memory-session-store.js';
import type { SessionSummary } from './session-summary.js';
import {
  NOT_A_SESSION,
  type SessionInvalidation,
  type SessionInvalidationListener,
  type SessionStore,
  type RevalidationClaim,
  type SlowTierLoad,
  type StoredValue,
} from './session-store.js';
import { decodeStoredValue, encodeStoredValue } from './stored-value-codec.js';
import { KEEP, LOAD, PURGE_IDENTITY, PURGE_KEY, RELEASE, REVALIDATE } from './redis-scripts.js';

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
   * gateway extracting other paths are misses here (stored-value-codec.ts). Default ''.
   */
  summaryShape?: string;
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

/**
 * How far before a miss's start a purge marker still refuses its answer. All times are
 * Redis's clock, so this covers only that clock stepping back (NTP); what it costs is that an
 * answer asked within this long after a purge is not shared (each instance asks Kratos).
 */
export const PURGE_MARGIN_MS = 1_000;
/** Invalidations remembered by what they purged, to tell a racing purge of this key or identity (past that: any counts). */
const RACE_MEMORY = 10_000;
/** The fill lock outlives the whoami timeout by this, so a crashed holder frees it soon after. */
const LOCK_SLACK_MS = 500;

type State = 'connecting' | 'up' | 'down';
type Invalidation = { key: string } | { identityId: string };
type LoadReply = [number, string, number, string];

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL after a Redis restart). */
interface ScriptedRedis extends Redis {
  kgLoad(s: string, l: string, token: string, px: number): Promise<LoadReply>;
  kgKeep(...args: (string | number)[]): Promise<number>;
  kgRelease(l: string, token: string, channel: string, key: string): Promise<number>;
  kgRevalidate(s: string, r: string, checkedAtMs: number, px: number): Promise<LoadReply>;
  kgPurgeKey(s: string, p: string, px: number, channel: string, msg: string): Promise<number>;
  kgPurgeIdentity(i: string, p: string, px: number, channel: string, msg: string, sPrefix: string): Promise<number>;
}

class Timeout extends Error {}

/** One LOAD round trip: a result for the resolver, or another instance holds the fill lock. */
type LoadStep =
  { kind: 'done'; result: SlowTierLoad } | { kind: 'wait'; lockMs: number; started: number; waiter: (ms: number) => Promise<void> };

export class RedisSessionStore implements SessionStore {
  private readonly l1: MemorySessionStore;
  private readonly cmd: ScriptedRedis;
  private readonly sub: Redis;
  private readonly origin = randomBytes(12).toString('base64url');
  private readonly listeners = new Set<SessionInvalidationListener>();
  /** cacheKey → misses here waiting for another instance's fill. */
  private readonly waiters = new Map<string, Set<{ filled: boolean; wake: () => void }>>();
  /** Invalidations Redis has not accepted yet, replayed once it is back (insertion-ordered, deduplicated). */
  private readonly outbox = new Map<string, Invalidation>();
  /**
   * Identity purges wait apart from key purges, each bounded alone: the mount purges the key of
   * any credential a mutating request presents, so anyone can queue key purges at will, and they
   * must not push a revocation out. (Identity purges need a session of that identity.)
   */
  private readonly identityOutbox = new Map<string, Invalidation>();
  /** The outbox overflowed since Redis was last up: said once, not once per dropped purge. */
  private outboxOverflowLogged = false;
  private readonly invalidateChannel: string;
  private readonly filledChannel: string;
  private readonly degradedCapMs: number;
  private readonly markerTtlMs: number;
  private readonly lockTtlMs: number;
  private readonly urlForLogs: string;
  private readonly heartbeat: NodeJS.Timeout;
  private state: State = 'connecting';
  private subscribed = false;
  private heartbeatFailures = 0;
  /**
   * Why Redis answers but refuses writes (a failover left us on a read-only replica, an ACL
   * change): purges then reach nobody, so the store is not up until a write is accepted again.
   */
  private refused: string | undefined;
  /** Invalidations received from the fleet so far: a reply that raced one of them is not trusted. */
  private received = 0;
  /**
   * `k<key>` / `i<identityId>` → the count of `received` when last invalidated, so a racing
   * purge of something else (anyone can make the mount publish key purges) does not count.
   */
  private readonly lastInvalidated = new LRUCache<string, number>({ max: RACE_MEMORY });
  private closed = false;
  /** The last connection error, for the next down line (ioredis reports one per reconnect attempt). */
  private lastError: string | undefined;

  constructor(private readonly opts: RedisSessionStoreOptions) {
    this.l1 = new MemorySessionStore(opts.memory);
    const p = opts.keyPrefix;
    this.invalidateChannel = p + 'invalidate';
    this.filledChannel = p + 'filled';
    this.degradedCapMs = Math.max(1, Math.min(opts.degradedTtlCapMs, opts.memory.ttlCapMs));
    this.lockTtlMs = opts.whoamiTimeoutMs + LOCK_SLACK_MS;
    // A marker must outlive every miss that began before it; KEEP refuses misses older than this.
    this.markerTtlMs = this.lockTtlMs + PURGE_MARGIN_MS + 1_000;
    // Userinfo password and every query value `***` (ioredis reads `?password=`).
    this.urlForLogs = redactUrl(opts.url);
    const common: RedisOptions = {
      // Nothing waits for a connection: a command while Redis is away fails at once.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // Readiness is our own PING/SUBSCRIBE; INFO would need one more ACL permission.
      enableReadyCheck: false,
      // No CLIENT SETINFO either: the ACL needs only the commands listed in redis-scripts.ts.
      disableClientInfo: true,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1_000, opts.timeoutMs),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...credentialsOf(opts.url, opts.password),
    };
    const url = withoutCredentials(opts.url);
    const cmd = new Redis(url, common) as ScriptedRedis;
    cmd.defineCommand('kgLoad', { numberOfKeys: 2, lua: LOAD });
    cmd.defineCommand('kgKeep', { numberOfKeys: 5, lua: KEEP });
    cmd.defineCommand('kgRelease', { numberOfKeys: 1, lua: RELEASE });
    cmd.defineCommand('kgRevalidate', { numberOfKeys: 2, lua: REVALIDATE });
    cmd.defineCommand('kgPurgeKey', { numberOfKeys: 2, lua: PURGE_KEY });
    cmd.defineCommand('kgPurgeIdentity', { numberOfKeys: 2, lua: PURGE_IDENTITY });
    this.cmd = cmd;
    // Subscriptions are made by us on every (re)connect, once it is ready.
    this.sub = new Redis(url, { ...common, autoResubscribe: false });
    for (const [name, conn] of [
      ['command', this.cmd],
      ['subscriber', this.sub],
    ] as const) {
      // Errors surface as state changes; ioredis would otherwise print each reconnect failure.
      conn.on('error', (err: Error) => {
        this.lastError = `${name}: ${err.message}`;
      });
      conn.on('close', () => this.setState('down', `${name} connection closed`));
      conn.on('ready', () => this.onReady(conn === this.sub));
    }
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.heartbeat = setInterval(() => void this.beat(), opts.heartbeatMs ?? 1_000);
    this.heartbeat.unref();
    opts.logger?.info({ redis: this.urlForLogs, key_prefix: p }, 'shared session cache: connecting to Redis');
  }

  /** Whether Redis is reachable and this store subscribed (the kratos_gateway_shared_cache_up gauge). */
  get up(): boolean {
    return this.state === 'up';
  }

  get size(): number {
    return this.l1.size;
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
    this.l1.set(key, value, this.state === 'up' ? ttlMs : Math.min(ttlMs, this.degradedCapMs));
  }

  delete(key: string): Promise<void> {
    this.l1.dropKey(key);
    return this.invalidate({ key }).then(() => undefined);
  }

  purgeIdentity(identityId: string): Promise<number> {
    const here = this.l1.dropIdentity(identityId);
    return this.invalidate({ identityId }).then((shared) => Math.max(here, shared ?? 0));
  }

  subscribe(listener: SessionInvalidationListener): () => void {
    const l: SessionInvalidationListener = (inv) => listener(inv);
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  async load(key: string): Promise<SlowTierLoad> {
    if (this.state !== 'up') return this.ticket(key, undefined, undefined);
    const first = await this.loadOnce(key);
    if (first.kind === 'done') return first.result;
    // Another instance is asking Kratos for this key: wait for its answer (or its lock to lapse).
    const waited = Math.min(first.lockMs, this.opts.whoamiTimeoutMs);
    await first.waiter(waited);
    const second = await this.loadOnce(key);
    if (second.kind === 'done') return second.result;
    await second.waiter(0);
    // Still held (a newer holder): ask Kratos ourselves rather than wait a second time.
    return this.ticket(key, second.started, undefined);
  }

  async claimRevalidation(key: string, checkedAtMs: number, forMs: number): Promise<RevalidationClaim> {
    // Redis away or slow: this instance re-checks on its own (its answer is kept here only).
    const alone: RevalidationClaim = { outcome: 'claimed', load: this.ticket(key, undefined, undefined) };
    if (this.state !== 'up') return alone;
    let reply: LoadReply;
    const receivedBefore = this.received;
    try {
      reply = await this.bounded(this.cmd.kgRevalidate(this.k('s:', key), this.k('r:', key), Math.floor(checkedAtMs), Math.max(1, forMs)));
    } catch {
      return alone;
    }
    const [kind, text, pttl, nowText] = reply;
    if (kind === 3) return { outcome: 'elsewhere' };
    if (kind === 2) return { outcome: 'claimed', load: this.ticket(key, Number(nowText), undefined) };
    const value = decodeStoredValue(text, this.opts.summaryShape);
    // Redis sends a purge that followed the script on the other connection, which may be read
    // first: the value would come back after the purge dropped it. Asked anew instead (guarded).
    const since = (id: string) => (this.lastInvalidated.get(id) ?? -1) >= receivedBefore;
    const raced =
      this.received - receivedBefore >= RACE_MEMORY ||
      since('k' + key) ||
      (value !== undefined && value !== NOT_A_SESSION && since('i' + (value as SessionSummary).identityId));
    if (value === undefined || value === NOT_A_SESSION || raced)
      return { outcome: 'claimed', load: this.ticket(key, Number(nowText), undefined) };
    this.keepFromRedis(key, value, Number(pttl));
    return { outcome: 'refreshed' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const set of this.waiters.values()) for (const w of set) w.wake();
    this.waiters.clear();
    this.listeners.clear();
    this.cmd.disconnect();
    this.sub.disconnect();
    await this.l1.close();
  }

  // --- misses ---------------------------------------------------------------------------

  /**
   * One LOAD script round trip. A waiter is registered before it is sent, so a fill notice
   * that overtakes the reply is not lost. Redis not answering in time: a miss kept here only.
   */
  private async loadOnce(key: string): Promise<LoadStep> {
    const w = { filled: false, wake: () => {} };
    let set = this.waiters.get(key);
    if (set === undefined) this.waiters.set(key, (set = new Set()));
    set.add(w);
    const unregister = () => {
      set.delete(w);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
    const token = randomBytes(12).toString('base64url');
    let reply: LoadReply;
    const sent = this.cmd.kgLoad(this.k('s:', key), this.k('l:', key), token, this.lockTtlMs);
    try {
      reply = await this.bounded(sent);
    } catch {
      unregister();
      // Answered after we gave up: a lock it took for us is given back, not left to lapse.
      sent.then((late) => late[0] === 2 && this.releaseLock(key, token)).catch(() => {});
      return { kind: 'done', result: this.ticket(key, undefined, undefined) };
    }
    const [kind, text, pttl, nowText] = reply;
    const started = Number(nowText);
    if (kind === 3) {
      const waiter = async (ms: number) => {
        if (!w.filled && ms > 0)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            w.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        unregister();
      };
      return { kind: 'wait', lockMs: Math.max(0, Number(pttl)), started, waiter };
    }
    unregister();
    if (kind === 2) return { kind: 'done', result: this.ticket(key, started, token) };
    const value = decodeStoredValue(text, this.opts.summaryShape);
    // Unreadable (another format, corrupt): a miss; our answer overwrites it.
    if (value === undefined) return { kind: 'done', result: this.ticket(key, started, undefined) };
    const ttlMs = this.keepFromRedis(key, value, Number(pttl));
    return { kind: 'done', result: { found: { value, ttlMs }, keep: () => {}, release: () => {} } };
  }

  /** Keeps a value read from Redis here for what its Redis entry has left (no expiry: the cap), capped; returns that lifetime. */
  private keepFromRedis(key: string, value: StoredValue, pttl: number): number {
    const cap = this.opts.memory.ttlCapMs;
    const ttlMs = Math.max(1, Math.min(pttl > 0 ? pttl : cap, cap));
    this.set(key, value, ttlMs);
    return ttlMs;
  }

  /**
   * A miss to be answered by Kratos. `started` (Redis ms) is when this miss began, for the
   * purge guard; undefined when Redis did not answer (the answer is then kept here only).
   * `token`: ours when we hold the fill lock.
   */
  private ticket(key: string, started: number | undefined, token: string | undefined): SlowTierLoad {
    let done = false;
    return {
      found: undefined,
      keep: (value, ttlMs) => {
        this.set(key, value, ttlMs);
        if (done) return;
        done = true;
        const session = value === NOT_A_SESSION ? undefined : (value as SessionSummary);
        // A Kratos-signed JWT (tokenize_as) is a bearer assertion for upstreams: never shared.
        const shareable = session?.tokenized === undefined;
        if (started === undefined || this.state !== 'up' || !shareable) return void (token && this.releaseLock(key, token));
        const idKey = session === undefined ? this.k('p:k:', key) : this.k('p:i:', session.identityId);
        const index = session === undefined ? this.k('p:k:', key) : this.k('i:', session.identityId);
        this.bounded(
          this.cmd.kgKeep(
            this.k('s:', key),
            this.k('l:', key),
            this.k('p:k:', key),
            idKey,
            index,
            encodeStoredValue(value, this.opts.summaryShape),
            Math.max(1, Math.round(ttlMs)),
            started,
            token ?? '',
            PURGE_MARGIN_MS,
            this.markerTtlMs - PURGE_MARGIN_MS,
            session === undefined ? '0' : '1',
            this.filledChannel,
            key,
          ),
        ).catch(() => {});
      },
      release: () => {
        if (done) return;
        done = true;
        if (token !== undefined) this.releaseLock(key, token);
      },
    };
  }

  private releaseLock(key: string, token: string): void {
    if (this.state !== 'up') return; // the lock lapses by itself
    this.bounded(this.cmd.kgRelease(this.k('l:', key), token, this.filledChannel, key)).catch(() => {});
  }

  // --- invalidations ----------------------------------------------------------------------

  /**
   * Publishes an invalidation (dropping the L2 entries and marking the purge) and resolves
   * with how many L2 values it dropped, or undefined when Redis did not accept it within
   * timeoutMs; a failed one is queued for when Redis is back. Never rejects.
   */
  private invalidate(inv: Invalidation): Promise<number | undefined> {
    if (this.state !== 'up' || this.closed) {
      this.enqueue(inv);
      return Promise.resolve(undefined);
    }
    const sent = this.send(inv);
    // A command past its timeout may still fail later (connection lost): then it is queued.
    sent.catch((err: unknown) => {
      this.enqueue(inv);
      this.refusedBy(err);
    });
    return this.bounded(sent).catch(() => undefined);
  }

  private async send(inv: Invalidation): Promise<number> {
    const message = JSON.stringify({ origin: this.origin, ...inv });
    const n =
      'key' in inv
        ? await this.cmd.kgPurgeKey(this.k('s:', inv.key), this.k('p:k:', inv.key), this.markerTtlMs, this.invalidateChannel, message)
        : await this.cmd.kgPurgeIdentity(
            this.k('i:', inv.identityId),
            this.k('p:i:', inv.identityId),
            this.markerTtlMs,
            this.invalidateChannel,
            message,
            this.k('s:', ''),
          );
    this.opts.events?.invalidation('published');
    return n;
  }

  private enqueue(inv: Invalidation): void {
    if (this.closed) return;
    const [box, id] = 'key' in inv ? [this.outbox, inv.key] : [this.identityOutbox, inv.identityId];
    box.delete(id);
    box.set(id, inv);
    const max = this.opts.outboxMax ?? 10_000;
    if (box.size > max) {
      box.delete(box.keys().next().value!);
      if (!this.outboxOverflowLogged)
        this.opts.logger?.warn({ max }, 'shared session cache: invalidation outbox full, oldest dropped (said once until Redis is back)');
      this.outboxOverflowLogged = true;
    }
  }

  private flushOutbox(): void {
    const pending = [...this.identityOutbox.values(), ...this.outbox.values()];
    this.identityOutbox.clear();
    this.outbox.clear();
    this.outboxOverflowLogged = false;
    for (const inv of pending)
      this.send(inv).catch((err: unknown) => {
        this.enqueue(inv);
        this.refusedBy(err);
      });
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.filledChannel) {
      const set = this.waiters.get(message);
      if (set !== undefined)
        for (const w of set) {
          w.filled = true;
          w.wake();
        }
      return;
    }
    if (channel !== this.invalidateChannel) return;
    const inv = parseInvalidation(message);
    // Our own purges come back too: already applied.
    if (inv === undefined || inv.origin === this.origin) return;
    this.lastInvalidated.set('key' in inv ? 'k' + inv.key : 'i' + inv.identityId, this.received++);
    const invalidation: SessionInvalidation = 'key' in inv ? { key: inv.key } : { identityId: inv.identityId };
    if ('key' in invalidation) this.l1.dropKey(invalidation.key);
    else this.l1.dropIdentity(invalidation.identityId);
    this.opts.events?.invalidation('received');
    for (const l of [...this.listeners]) l(invalidation);
  }

  // --- connection state -------------------------------------------------------------------

  private onReady(subscriber: boolean): void {
    if (subscriber) {
      this.subscribed = false;
      this.bounded(this.sub.subscribe(this.invalidateChannel, this.filledChannel), 5_000).then(
        () => {
          this.subscribed = true;
          this.checkUp();
        },
        () => this.sub.disconnect(true), // try again from scratch
      );
    } else this.checkUp();
  }

  private checkUp(): void {
    const ready = this.cmd.status === 'ready' && this.sub.status === 'ready' && this.subscribed;
    if (ready && this.heartbeatFailures < 2 && this.refused === undefined) this.setState('up');
  }

  /** An error reply (not a timeout or a lost connection): Redis refuses our writes; down until a heartbeat write passes. */
  private refusedBy(err: unknown): void {
    if (!(err instanceof ReplyError)) return;
    this.refused = (err as Error).message.split('\n')[0];
    this.setState('down', `Redis refuses writes: ${this.refused}`);
  }

  private async beat(): Promise<void> {
    if (this.closed || this.cmd.status !== 'ready' || this.sub.status !== 'ready') return;
    const budget = Math.max(this.opts.timeoutMs, 1_000);
    try {
      // A DEL (of a key that never exists) rather than a PING: refused exactly when a purge's
      // first write would be (read-only replica, ACL), let through when out of memory as a purge is.
      await Promise.all([this.bounded(this.cmd.del(this.k('hb:', this.origin)), budget), this.bounded(this.sub.ping(), budget)]);
      this.heartbeatFailures = 0;
      this.refused = undefined;
      this.checkUp();
    } catch (err) {
      if (err instanceof ReplyError) return this.refusedBy(err);
      // Two missed beats in a row: Redis hangs (or the network does) without closing the connections.
      if (++this.heartbeatFailures >= 2) {
        this.setState('down', `no answer to PING (${(err as Error).message})`);
        // New connections: a path gone silent never closes the old ones by itself (no keepalive;
        // the kernel gives up after many minutes). Sockets that will not close are destroyed
        // after ioredis's disconnectTimeout; commands still waiting on them fail (purges are queued).
        this.heartbeatFailures = 0;
        this.cmd.disconnect(true);
        this.sub.disconnect(true);
      }
    }
  }

  private setState(next: 'up' | 'down', reason?: string): void {
    if (this.closed || next === this.state || (next === 'down' && this.state === 'down')) return;
    const previous = this.state;
    this.state = next;
    if (next === 'down') {
      this.subscribed = this.sub.status === 'ready' && this.subscribed;
      // Invalidations from elsewhere may be missed from now on: nothing held here outlives the cap.
      this.l1.capRemainingTtl(this.degradedCapMs);
      // Misses waiting for another instance's fill go on to ask Kratos.
      for (const set of this.waiters.values()) for (const w of set) w.wake();
      this.opts.events?.up(false);
      this.opts.logger?.warn(
        { redis: this.urlForLogs, reason: this.lastError ?? reason, degraded_ttl_cap_ms: this.degradedCapMs },
        previous === 'connecting'
          ? 'shared session cache: Redis unreachable at start; serving from the in-process cache, entries capped'
          : 'shared session cache down: serving from the in-process cache, entries capped, invalidations queued',
      );
      this.lastError = undefined;
      return;
    }
    this.opts.events?.up(true);
    this.opts.logger?.info(
      { redis: this.urlForLogs, queued_invalidations: this.outbox.size + this.identityOutbox.size },
      'shared session cache up',
    );
    this.flushOutbox();
  }

  /** Rejects with Timeout past `ms` (default timeoutMs); the command itself is not cancelled. */
  private bounded<T>(p: Promise<T>, ms = this.opts.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Timeout(`Redis did not answer within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private k(kind: string, rest: string): string {
    return this.opts.keyPrefix + kind + rest;
  }
}

/**
 * User and password as options, the password from the file winning over the URL's: ioredis
 * lets anything in the URL (even an empty password) win over its options. ioredis also takes
 * every query parameter as an option, `?password=` and `?username=` included: read here as the
 * userinfo would be (the userinfo first), and taken out of the URL (see withoutCredentials).
 */
function credentialsOf(url: string, password: string | undefined): { username?: string; password?: string } {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || (u.searchParams.get('username') ?? '');
  const pass = password ?? (decodeURIComponent(u.password) || (u.searchParams.get('password') ?? ''));
  return { ...(user !== '' && { username: user }), ...(pass !== '' && { password: pass }) };
}

/** The URL ioredis is given: no userinfo, no `username`/`password` query parameters. */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.searchParams.delete('username');
  u.searchParams.delete('password');
  return u.href;
}

/** A fleet message, checked field by field: a forged one can at worst purge entries. */
function parseInvalidation(message: string): ({ origin: string } & Invalidation) | undefined {
  if (message.length > 4_096) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (typeof m.origin !== 'string') return undefined;
  const ok = (x: unknown): x is string => typeof x === 'string' && x !== '' && x.length <= 1_024;
  if (ok(m.key) && m.identityId === undefined) return { origin: m.origin, key: m.key };
  if (ok(m.identityId) && m.key === undefined) return { origin: m.origin, identityId: m.identityId };
  return undefined;
}
