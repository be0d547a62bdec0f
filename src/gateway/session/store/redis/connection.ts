/**
 * The shared store's two connections to Redis (commands, and the subscriber) and whether the
 * store may use them: up only once both are ready, subscribed, and the Redis user has been
 * found to be allowed every command the store sends (permission-probe.ts); down when a
 * connection closes, Redis refuses writes, or a heartbeat goes unanswered twice. Every command a
 * caller waits for is bounded; credentials come out of the URL into options.
 */
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Logger } from '../../../../log.js';
import { redactUrl } from '../../../../config/redact.js';
import { probePermissions, subscribeRefused, type PermissionReport } from './permission-probe.js';
import { withScripts, type ScriptedRedis } from './scripts.js';

export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` (TLS); user and password may be in it. */
  url: string;
  /** Overrides a password in the URL (session_cache.shared.password_file). */
  password?: string | undefined;
  keyPrefix: string;
  /** This instance: names the key the heartbeat and the permission check use. */
  origin: string;
  /** Subscribed on every (re)connect; the permission check publishes to each. */
  channels: readonly string[];
  /** The most a caller waits for any one Redis command. */
  timeoutMs: number;
  /** How often both connections are pinged to notice a Redis that hangs without closing them. */
  heartbeatMs?: number | undefined;
  /** Said in the down lines: what the in-process tier is capped at meanwhile. */
  degradedTtlCapMs: number;
  logger?: Logger | undefined;
}

/** What the store does when the connection's state changes or a message arrives. */
export interface ConnectionHooks {
  /** Up (again): what was queued meanwhile can go out. */
  up(): void;
  /** Down: invalidations from elsewhere may be missed from now on. */
  down(): void;
  message(channel: string, message: string): void;
  /** Invalidations waiting for Redis, said in the up line. */
  queued(): number;
}

type State = 'connecting' | 'up' | 'down';

export class RedisConnection {
  readonly cmd: ScriptedRedis;
  private readonly sub: Redis;
  private readonly urlForLogs: string;
  private readonly heartbeat: NodeJS.Timeout;
  private state: State = 'connecting';
  /** Times the store has gone down: see upSince. */
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
  private isClosed = false;
  /** The last connection error, for the next down line (ioredis reports one per reconnect attempt). */
  private lastError: string | undefined;

  constructor(
    private readonly o: RedisConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    // Userinfo password and every query value `***` (ioredis reads `?password=`).
    this.urlForLogs = redactUrl(o.url);
    const common: RedisOptions = {
      // Nothing waits for a connection: a command while Redis is away fails at once.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // Readiness is our own PING/SUBSCRIBE; INFO would need one more ACL permission.
      enableReadyCheck: false,
      // No CLIENT SETINFO either: the ACL needs only the commands listed in scripts.ts.
      disableClientInfo: true,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1_000, o.timeoutMs),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...credentialsOf(o.url, o.password),
    };
    const url = withoutCredentials(o.url);
    this.cmd = withScripts(new Redis(url, common));
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
    this.sub.on('message', (channel: string, message: string) => hooks.message(channel, message));
    this.heartbeat = setInterval(() => void this.beat(), o.heartbeatMs ?? 1_000);
    this.heartbeat.unref();
    o.logger?.info({ redis: this.urlForLogs, key_prefix: o.keyPrefix }, 'shared session cache: connecting to Redis');
  }

  /** Whether Redis is reachable, subscribed and the user permitted (the kratos_gateway_shared_cache_up gauge). */
  get up(): boolean {
    return this.state === 'up';
  }

  /**
   * Which stretch of being up the store is in (it changes each time the store goes down), or
   * undefined while it is not up. A miss records it when it begins: an answer is trusted as one
   * no purge overtook only if the store stayed up meanwhile, since the purge messages of a
   * stretch down are lost, not replayed.
   */
  get upSince(): number | undefined {
    return this.state === 'up' ? this.downs : undefined;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Rejects with Timeout past `ms` (default timeoutMs); the command itself is not cancelled. */
  bounded<T>(p: Promise<T>, ms = this.o.timeoutMs): Promise<T> {
    return within(p, ms);
  }

  /**
   * An error reply (not a timeout or a lost connection): Redis refuses our writes; down until a
   * heartbeat write passes. Refused by the ACL: down, and the permission check says which
   * command (and keeps the store down until it passes).
   */
  refusedBy(err: unknown): void {
    if (!(err instanceof ReplyError)) return;
    this.refused = (err as Error).message.split('\n')[0]!;
    const acl = /^NOPERM|executing the script can't/.test(this.refused);
    this.setState('down', `Redis refuses writes: ${this.refused}`, acl ? 'quiet' : undefined);
    if (acl) void this.checkPermissions();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.heartbeat);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private key(kind: string, rest: string): string {
    return this.o.keyPrefix + kind + rest;
  }

  private onReady(subscriber: boolean): void {
    if (!subscriber) return void this.checkPermissions();
    this.subscribed = false;
    this.subscribeChannels();
  }

  private subscribeChannels(): void {
    this.bounded(this.sub.subscribe(...this.o.channels), 5_000).then(
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

  /** Runs the permission check on the command connection (see permission-probe.ts). */
  private async checkPermissions(): Promise<void> {
    const keys = [this.key('hb:', this.o.origin), this.key('hb:', this.o.origin + ':set')] as const;
    try {
      this.probe = await probePermissions(this.cmd, keys, this.o.channels, (p) => this.bounded(p, Math.max(this.o.timeoutMs, 1_000)));
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

  private async beat(): Promise<void> {
    if (this.isClosed || this.cmd.status !== 'ready' || this.sub.status !== 'ready') return;
    const budget = Math.max(this.o.timeoutMs, 1_000);
    // Until the ACL lets everything through, or while the check has had no answer on this
    // connection (Redis slow at connect): asked again at each beat, else the store stays down.
    if (this.lacking !== undefined || this.probe === undefined) {
      if (this.subscribeDenied !== undefined) this.subscribeChannels();
      void this.checkPermissions();
    }
    try {
      // A DEL (of a key that never exists) rather than a PING: refused exactly when a purge's
      // first write would be (read-only replica, ACL), let through when out of memory as a purge is.
      await Promise.all([this.bounded(this.cmd.del(this.key('hb:', this.o.origin)), budget), this.bounded(this.sub.ping(), budget)]);
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
    if (this.isClosed) return;
    const logger = this.o.logger;
    const cap = { degraded_ttl_cap_ms: this.o.degradedTtlCapMs };
    if (next === this.state || (next === 'down' && this.state === 'down')) {
      if (typeof line === 'object') logger?.warn({ redis: this.urlForLogs, ...line.fields, ...cap }, line.message);
      return;
    }
    const previous = this.state;
    this.state = next;
    if (next === 'down') {
      this.downs++;
      this.subscribed = this.sub.status === 'ready' && this.subscribed;
      this.hooks.down();
      if (line === 'quiet') return;
      logger?.warn(
        { redis: this.urlForLogs, reason: line === undefined ? (this.lastError ?? reason) : reason, ...line?.fields, ...cap },
        line?.message ??
          (previous === 'connecting'
            ? 'shared session cache: Redis unreachable at start; serving from the in-process cache, entries capped'
            : 'shared session cache down: serving from the in-process cache, entries capped, invalidations queued'),
      );
      if (line === undefined) this.lastError = undefined;
      return;
    }
    logger?.info({ redis: this.urlForLogs, queued_invalidations: this.hooks.queued() }, 'shared session cache up');
    this.hooks.up();
  }
}

/** A command that did not answer within its bound (the command itself is not cancelled). */
export class Timeout extends Error {}

/** Rejects with Timeout past `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`Redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * User and password as options, the password from the file winning over the URL's: ioredis
 * lets anything in the URL (even an empty password) win over its options. ioredis also takes
 * every query parameter as an option, `?password=` and `?username=` included: read here as the
 * userinfo would be (the userinfo first), and taken out of the URL (see withoutCredentials).
 */
export function credentialsOf(url: string, password: string | undefined): { username?: string; password?: string } {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || (u.searchParams.get('username') ?? '');
  const pass = password ?? (decodeURIComponent(u.password) || (u.searchParams.get('password') ?? ''));
  return { ...(user !== '' && { username: user }), ...(pass !== '' && { password: pass }) };
}

/** The URL ioredis is given: no userinfo, no `username`/`password` query parameters. */
export function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.searchParams.delete('username');
  u.searchParams.delete('password');
  return u.href;
}
