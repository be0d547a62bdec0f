/**
 * The fleet's shared session store: an in-process MemorySessionStore (L1, synchronous `get`)
 * in front of Redis (L2), with invalidations fanned out over Redis pub/sub and new
 * credentials coalesced fleet-wide by a short fill lock. Redis is never on the hot path: a hit
 * is L1 alone, and every Redis command a request waits for is bounded by `timeoutMs`. While
 * Redis is unreachable the store serves from L1 with lifetimes capped at `degradedTtlCapMs`
 * (invalidations from elsewhere may be missed meanwhile) and queues its own invalidations for
 * when Redis is back. See redis-scripts.ts for the keys, channels and commands used, and
 * redis-fills.ts for misses and the fill lock. It is not up before its Redis user has been
 * found to be allowed every command it sends (redis-permissions.ts).
 */
import { randomBytes } from 'node:crypto';
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../../log.js';
import { redactUrl } from '../../../config/redact.js';
import { MemorySessionStore, type MemorySessionStoreOptions } from './memory-store.js';
import type { SessionSummary } from '../session-summary.js';
import {
  NOT_A_SESSION,
  type SessionInvalidation,
  type SessionInvalidationListener,
  type SessionStore,
  type RevalidationClaim,
  type SlowTierLoad,
  type StoredValue,
} from './session-store.js';
import { decodeStoredValue, type SummaryShape } from './redis/stored-value-codec.js';
import { credentialsOf, withScripts, within, withoutCredentials, type ClaimReply, type ScriptedRedis } from './redis/connection.js';
import { Fills, PURGE_MARGIN_MS, waitChannelOf } from './redis/fill-lock.js';
import { probePermissions, subscribeRefused, type PermissionReport } from './redis/permission-probe.js';

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

/** Invalidations remembered by what they purged, to tell a racing purge of this key or identity (past that: any counts). */
const RACE_MEMORY = 10_000;
/** The fill lock outlives the whoami timeout by this, so a crashed holder frees it soon after. */
const LOCK_SLACK_MS = 500;

type State = 'connecting' | 'up' | 'down';
type Invalidation = { key: string } | { identityId: string };

export class RedisSessionStore implements SessionStore {
  private readonly l1: MemorySessionStore;
  private readonly cmd: ScriptedRedis;
  private readonly sub: Redis;
  private readonly origin = randomBytes(12).toString('base64url');
  private readonly listeners = new Set<SessionInvalidationListener>();
  private readonly fills: Fills;
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
  private readonly waitChannel: string;
  private readonly degradedCapMs: number;
  private readonly markerTtlMs: number;
  private readonly urlForLogs: string;
  private readonly heartbeat: NodeJS.Timeout;
  private state: State = 'connecting';
  /** Times the store has gone down: see FillsHost.upSince. */
  private downs = 0;
  private subscribed = false;
  private heartbeatFailures = 0;
  /**
   * Why Redis answers but refuses writes (a failover left us on a read-only replica, an ACL
   * change): purges then reach nobody, so the store is not up until a write is accepted again.
   */
  private refused: string | undefined;
  /** The permission check passed on the command connection, and SUBSCRIBE was let through. */
  private probe: PermissionReport | undefined;
  /** SUBSCRIBE refused by the ACL (as the report names it), or undefined. */
  private subscribeDenied: string | undefined;
  /** What the last "may not run" line said, so it is said once per change. */
  private lacking: string | undefined;
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
    this.waitChannel = waitChannelOf(p, this.origin);
    this.degradedCapMs = Math.max(1, Math.min(opts.degradedTtlCapMs, opts.memory.ttlCapMs));
    const lockTtlMs = opts.whoamiTimeoutMs + LOCK_SLACK_MS;
    // A marker must outlive every miss that began before it; KEEP refuses misses older than this.
    this.markerTtlMs = lockTtlMs + PURGE_MARGIN_MS + 1_000;
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
    this.cmd = withScripts(new Redis(url, common));
    const isUp = () => this.up;
    const upSince = () => this.upSince;
    const host = {
      cmd: this.cmd,
      get up() {
        return isUp();
      },
      get upSince() {
        return upSince();
      },
      keepHere: (k: string, v: StoredValue, ttl: number, steady: boolean) =>
        this.l1.set(k, v, steady ? ttl : Math.min(ttl, this.degradedCapMs)),
    };
    this.fills = new Fills(host, {
      keyPrefix: p,
      origin: this.origin,
      timeoutMs: opts.timeoutMs,
      whoamiTimeoutMs: opts.whoamiTimeoutMs,
      lockTtlMs,
      markerTtlMs: this.markerTtlMs,
      ttlCapMs: opts.memory.ttlCapMs,
      summaryShape: opts.summaryShape,
    });
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
      conn.on('close', () => {
        if (conn === this.cmd) this.probe = undefined;
        this.setState('down', `${name} connection closed`);
      });
      conn.on('ready', () => this.onReady(conn === this.sub));
    }
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.heartbeat = setInterval(() => void this.beat(), opts.heartbeatMs ?? 1_000);
    this.heartbeat.unref();
    opts.logger?.info({ redis: this.urlForLogs, key_prefix: p }, 'shared session cache: connecting to Redis');
  }

  /** Whether Redis is reachable, this store subscribed and its user permitted (the kratos_gateway_shared_cache_up gauge). */
  get up(): boolean {
    return this.state === 'up';
  }

  /** See FillsHost.upSince. */
  private get upSince(): number | undefined {
    return this.state === 'up' ? this.downs : undefined;
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

  load(key: string): Promise<SlowTierLoad> {
    return this.state === 'up' ? this.fills.load(key) : Promise.resolve(this.fills.ticket(key, undefined));
  }

  async claimRevalidation(key: string, checkedAtMs: number, forMs: number): Promise<RevalidationClaim> {
    // Redis away or slow: this instance re-checks on its own (its answer is kept here only).
    const upSince = this.upSince;
    const alone: RevalidationClaim = { outcome: 'claimed', load: this.fills.ticket(key, upSince) };
    if (upSince === undefined) return alone;
    let reply: ClaimReply;
    const receivedBefore = this.received;
    try {
      reply = await this.bounded(this.cmd.kgRevalidate(this.k('s:', key), this.k('r:', key), Math.floor(checkedAtMs), Math.max(1, forMs)));
    } catch {
      return alone;
    }
    const [kind, text, pttl, nowText] = reply;
    if (kind === 3) return { outcome: 'elsewhere' };
    if (kind === 2) return { outcome: 'claimed', load: this.fills.ticket(key, upSince, Number(nowText)) };
    const value = decodeStoredValue(text, this.opts.summaryShape);
    // Redis sends a purge that followed the script on the other connection, which may be read
    // first: the value would come back after the purge dropped it. Asked anew instead (guarded).
    const since = (id: string) => (this.lastInvalidated.get(id) ?? -1) >= receivedBefore;
    const raced =
      this.received - receivedBefore >= RACE_MEMORY ||
      since('k' + key) ||
      (value !== undefined && value !== NOT_A_SESSION && since('i' + (value as SessionSummary).identityId));
    if (value === undefined || value === NOT_A_SESSION || raced)
      return { outcome: 'claimed', load: this.fills.ticket(key, upSince, Number(nowText)) };
    this.fills.keepFound(key, value, Number(pttl), upSince);
    return { outcome: 'refreshed' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.fills.close();
    this.listeners.clear();
    this.cmd.disconnect();
    this.sub.disconnect();
    await this.l1.close();
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
    if (channel === this.fills.filledChannel) return this.fills.onFilled(message);
    if (channel === this.waitChannel) return this.fills.onWaiting(message);
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
    if (!subscriber) return void this.checkPermissions();
    this.subscribed = false;
    this.subscribeChannels();
  }

  private subscribeChannels(): void {
    this.bounded(this.sub.subscribe(this.invalidateChannel, this.fills.filledChannel, this.waitChannel), 5_000).then(
      () => {
        this.subscribed = true;
        this.subscribeDenied = undefined;
        this.reportPermissions();
      },
      (err: unknown) => {
        this.subscribeDenied = subscribeRefused(err);
        // Refused by the ACL: said with the other refusals, asked again at each heartbeat.
        if (this.subscribeDenied !== undefined) this.reportPermissions();
        else this.sub.disconnect(true); // try again from scratch
      },
    );
  }

  /** Runs the permission check on the command connection (see redis-permissions.ts). */
  private async checkPermissions(): Promise<void> {
    const channels = [this.invalidateChannel, this.fills.filledChannel, this.waitChannel];
    const keys = [this.k('hb:', this.origin), this.k('hb:', this.origin + ':set')] as const;
    try {
      this.probe = await probePermissions(this.cmd, keys, channels, (p) => this.bounded(p, Math.max(this.opts.timeoutMs, 1_000)));
    } catch {
      return; // no answer: asked again at the next heartbeat
    }
    this.reportPermissions();
  }

  /**
   * Once both the check and the subscription have answered: up if nothing was refused, else
   * down, with one line naming what was refused (again only when that changes).
   */
  private reportPermissions(): void {
    const probe = this.probe;
    if (probe === undefined || (!this.subscribed && this.subscribeDenied === undefined)) return;
    const missing = [...probe.missing, ...(this.subscribeDenied === undefined ? [] : [this.subscribeDenied])];
    if (missing.length === 0 && probe.errors.length === 0) {
      this.lacking = undefined;
      return this.checkUp();
    }
    const said = JSON.stringify([missing, probe.errors]);
    if (said === this.lacking) return;
    this.lacking = said;
    const what = missing.length > 0 ? `the Redis user may not run ${missing.join(', ')}` : `Redis refuses ${probe.errors.join('; ')}`;
    const fields = { missing, ...(probe.errors.length > 0 && { errors: probe.errors }) };
    this.setState('down', what, {
      fields,
      message: `shared session cache down: ${what}; serving from the in-process cache, entries capped`,
    });
  }

  private checkUp(): void {
    const ready = this.cmd.status === 'ready' && this.sub.status === 'ready' && this.subscribed;
    const permitted = this.probe !== undefined && this.lacking === undefined;
    if (ready && permitted && this.heartbeatFailures < 2 && this.refused === undefined) this.setState('up');
  }

  /**
   * An error reply (not a timeout or a lost connection): Redis refuses our writes; down until a
   * heartbeat write passes. Refused by the ACL: down, and the permission check says which
   * command (and keeps the store down until it passes).
   */
  private refusedBy(err: unknown): void {
    if (!(err instanceof ReplyError)) return;
    this.refused = (err as Error).message.split('\n')[0]!;
    const acl = /^NOPERM|executing the script can't/.test(this.refused);
    this.setState('down', `Redis refuses writes: ${this.refused}`, acl ? 'quiet' : undefined);
    if (acl) void this.checkPermissions();
  }

  private async beat(): Promise<void> {
    if (this.closed || this.cmd.status !== 'ready' || this.sub.status !== 'ready') return;
    const budget = Math.max(this.opts.timeoutMs, 1_000);
    // Until the ACL lets everything through, or while the check has had no answer on this
    // connection (Redis slow at connect): asked again at each beat, else the store stays down.
    if (this.lacking !== undefined || this.probe === undefined) {
      if (this.subscribeDenied !== undefined) this.subscribeChannels();
      void this.checkPermissions();
    }
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

  /**
   * `line`: the down line's own fields and message, when the cause is not reaching Redis (also
   * said when already down); `quiet`: the permission check that follows says why.
   */
  private setState(next: 'up' | 'down', reason?: string, line?: { fields: object; message: string } | 'quiet'): void {
    if (this.closed) return;
    if (next === this.state || (next === 'down' && this.state === 'down')) {
      if (typeof line === 'object')
        this.opts.logger?.warn({ redis: this.urlForLogs, ...line.fields, degraded_ttl_cap_ms: this.degradedCapMs }, line.message);
      return;
    }
    const previous = this.state;
    this.state = next;
    if (next === 'down') {
      this.downs++;
      this.subscribed = this.sub.status === 'ready' && this.subscribed;
      // Invalidations from elsewhere may be missed from now on: nothing held here outlives the cap.
      this.l1.capRemainingTtl(this.degradedCapMs);
      // Misses waiting for another instance's fill go on to ask Kratos.
      this.fills.wakeAll();
      this.opts.events?.up(false);
      if (line === 'quiet') return;
      this.opts.logger?.warn(
        {
          redis: this.urlForLogs,
          reason: line === undefined ? (this.lastError ?? reason) : reason,
          ...line?.fields,
          degraded_ttl_cap_ms: this.degradedCapMs,
        },
        line?.message ??
          (previous === 'connecting'
            ? 'shared session cache: Redis unreachable at start; serving from the in-process cache, entries capped'
            : 'shared session cache down: serving from the in-process cache, entries capped, invalidations queued'),
      );
      if (line === undefined) this.lastError = undefined;
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
    return within(p, ms);
  }

  private k(kind: string, rest: string): string {
    return this.opts.keyPrefix + kind + rest;
  }
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
