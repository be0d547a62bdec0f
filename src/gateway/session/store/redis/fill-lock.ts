/**
 * Misses in the shared tier, the fleet-wide fill lock that lets one instance ask Kratos for a
 * new credential while the others wait for its answer, and the revalidation claim that lets one
 * instance re-check an old entry for the fleet.
 *
 * A miss costs Redis one command, `SET P s:<key> <lock> PX … NX GET`: the stored session if
 * there is one (then its PTTL is asked), another instance's lock, or nothing, and then the lock
 * is ours. Most misses are credentials no instance has seen (bogus ones in a flood, each new
 * login once), so nothing more is sent unless there is something to share: a session is
 * written (KEEP), a "not a session" stays in this instance's own negative cache, and a lock
 * not replaced by a session lapses by itself. An instance that finds another's lock tells that
 * instance (PUBLISH on its P wait:<origin>) and waits; only a fill someone waits on ends with a
 * PUBLISH on P filled, which wakes the waiters.
 *
 * An answer is shared only through KEEP, which refuses it when a purge marker of its key or
 * identity is newer than its miss (scripts.ts): the fleet's purge-race guard. What this instance
 * keeps in its own tier goes through the first tier's guard (MemorySessionStore.keep).
 */
import { randomBytes } from 'node:crypto';
import { ReplyError } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { SessionSummary } from '../../session-summary.js';
import { NOT_A_SESSION, type RevalidationClaim, type SlowTierLoad, type StoredValue } from '../session-store.js';
import { decodeStoredValue, encodeStoredValue, type SummaryShape } from './stored-value-codec.js';
import { FILL_LOCK, type ClaimReply, type ScriptedRedis } from './scripts.js';
import { within } from './connection.js';
import { identityScope } from '../../cache-key.js';

/**
 * How far before a miss's start a purge marker still refuses its answer. All times are
 * Redis's clock, so this covers only that clock stepping back (NTP); what it costs is that an
 * answer asked within this long after a purge is not shared (each instance asks Kratos).
 */
export const PURGE_MARGIN_MS = 1_000;
/** Fill locks of this instance remembered (for as long as they live), to answer a waiting notice. */
const FILL_MEMORY = 10_000;

export interface FillHost {
  readonly cmd: ScriptedRedis;
  /** Whether the store is up: Redis reachable, subscribed, every command permitted. */
  readonly up: boolean;
  /** See RedisConnection.upSince. */
  readonly upSince: number | undefined;
  /** The first tier's purge record now (PurgeLog.mark): what an answer asked from here on is checked against. */
  mark(): number;
  /**
   * Keeps a value in this process only, unless a purge of its key or identity came since `mark`;
   * returns whether it was kept. `steady`: the store was up all the while it was asked, else it
   * is capped as everything held when the store went down was (degraded_ttl_cap_ms).
   */
  keepHere(key: string, value: StoredValue, ttlMs: number, steady: boolean, mark: number): boolean;
}

export interface FillOptions {
  keyPrefix: string;
  /** This instance: names its locks and its wait channel. */
  origin: string;
  /** P filled: where a released fill lock wakes its waiters. */
  filledChannel: string;
  timeoutMs: number;
  whoamiTimeoutMs: number;
  lockTtlMs: number;
  markerTtlMs: number;
  ttlCapMs: number;
  summaryShape: SummaryShape | undefined;
}

/** A fill lock this instance took (or may have taken: its SET went unanswered). */
export interface Fill {
  readonly lock: string;
  /** Another instance said it waits on it. */
  waited: boolean;
  /** Answered (kept, released, or given up on). */
  done: boolean;
  /** The waiters were told (or will be, by the KEEP under way). */
  told: boolean;
}

interface Waiter {
  filled: boolean;
  wake: () => void;
}

/**
 * What a miss to be answered by Kratos was asked under. `since`: the store's upSince when it
 * began; `mark`: the first tier's purge record then; `started` (Redis ms): when a revalidation
 * claim began, for the markers; `fill`: ours when we hold the fill lock. Neither `started` nor
 * `fill`: the answer is kept here only.
 */
interface Asked {
  since: number | undefined;
  mark: number;
  started?: number;
  fill?: Fill;
}

/** One miss's round trip: a result for the resolver, or another instance holds the fill lock. */
type Step = { kind: 'done'; result: SlowTierLoad } | { kind: 'wait'; wait: (ms: number) => Promise<void> };

/** The channel an instance hears waiting notices on. */
export const waitChannelOf = (keyPrefix: string, origin: string) => `${keyPrefix}wait:${origin}`;

export class FillLocks {
  /** cacheKey → misses here waiting for another instance's fill. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly held: LRUCache<string, Fill>;
  private readonly filledChannel: string;

  constructor(
    private readonly host: FillHost,
    private readonly o: FillOptions,
  ) {
    this.filledChannel = o.filledChannel;
    this.held = new LRUCache<string, Fill>({ max: FILL_MEMORY, ttl: o.lockTtlMs });
  }

  /** A miss: the value another instance shared, or the ticket to keep Kratos's answer through. */
  async load(key: string): Promise<SlowTierLoad> {
    const asked: Asked = { since: this.host.upSince, mark: this.host.mark() };
    if (asked.since === undefined) return this.ticket(key, asked);
    const first = await this.loadOnce(key, asked);
    if (first.kind === 'done') return first.result;
    // Another instance is asking Kratos for this key: wait for its answer (or its lock to lapse).
    await first.wait(this.o.whoamiTimeoutMs);
    const second = await this.loadOnce(key, asked);
    if (second.kind === 'done') return second.result;
    await second.wait(0);
    // Still held (a newer holder): ask Kratos ourselves rather than wait a second time.
    return this.ticket(key, asked);
  }

  /** See SessionStore.claimRevalidation. */
  async claim(key: string, checkedAtMs: number, forMs: number): Promise<RevalidationClaim> {
    const since = this.host.upSince;
    const mark = this.host.mark();
    // Redis away or slow: this instance re-checks on its own (its answer is kept here only).
    const alone: RevalidationClaim = { outcome: 'claimed', load: this.ticket(key, { since, mark }) };
    if (since === undefined) return alone;
    let reply: ClaimReply;
    const k = (kind: string) => this.o.keyPrefix + kind + key;
    try {
      reply = await within(this.host.cmd.kgRevalidate(k('s:'), k('r:'), Math.floor(checkedAtMs), Math.max(1, forMs)), this.o.timeoutMs);
    } catch {
      return alone;
    }
    const [kind, text, pttl, nowText] = reply;
    if (kind === 3) return { outcome: 'elsewhere' };
    const claimed: RevalidationClaim = { outcome: 'claimed', load: this.ticket(key, { since, mark, started: Number(nowText) }) };
    if (kind === 2) return claimed;
    const value = decodeStoredValue(text, this.o.summaryShape);
    if (value === undefined || value === NOT_A_SESSION) return claimed;
    // Redis sends a purge that followed the script on the other connection, which may be read
    // first: the value would come back after the purge dropped it. Refused here, it is asked anew.
    return this.keepFound(key, value, this.lifetime(Number(pttl)), { since, mark }) ? { outcome: 'refreshed' } : claimed;
  }

  /** A miss to be answered by Kratos (see Asked). */
  private ticket(key: string, asked: Asked): SlowTierLoad {
    const { mark, started, fill } = asked;
    let done = false;
    return {
      found: undefined,
      keep: (value, ttlMs) => {
        const steady = this.steady(asked);
        // Refused here when a purge this instance knows of overtook it; a purge it heard of, or
        // sent, reached Redis before this KEEP can, so KEEP refuses it too (and frees the lock).
        this.host.keepHere(key, value, ttlMs, steady, mark);
        if (done) return;
        done = true;
        const session = value === NOT_A_SESSION ? undefined : (value as SessionSummary);
        // "Not a session" is not shared (see the file comment); nor is a Kratos-signed JWT
        // (tokenize_as), a bearer assertion for upstreams; nor an answer asked across a time
        // down, whose purges this instance may not have heard.
        if (session === undefined || session.tokenized !== undefined || (started === undefined && fill === undefined) || !steady)
          return this.finish(key, fill);
        if (fill !== undefined) {
          fill.done = true;
          fill.told = fill.waited;
        }
        const k = (kind: string, rest: string) => this.o.keyPrefix + kind + rest;
        const identity = identityScope(key, session.identityId);
        void within(
          this.host.cmd.kgKeep(
            ...[k('s:', key), k('p:k:', key), k('p:i:', identity), k('i:', identity)],
            encodeStoredValue(value, this.o.summaryShape),
            Math.max(1, Math.round(ttlMs)),
            started ?? '',
            fill?.lock ?? '',
            PURGE_MARGIN_MS,
            this.o.markerTtlMs - PURGE_MARGIN_MS,
            this.o.lockTtlMs,
            this.filledChannel,
            key,
            fill?.waited ? '1' : '0',
          ),
          this.o.timeoutMs,
        ).catch(() => {});
      },
      release: () => {
        if (done) return;
        done = true;
        this.finish(key, fill);
      },
    };
  }

  /** The store stayed up all the while since the miss began: it heard every purge meanwhile. */
  private steady(asked: Asked): boolean {
    return asked.since !== undefined && this.host.upSince === asked.since;
  }

  /** How long a value read from Redis is kept here: what its Redis entry has left (none: the cap), capped. */
  private lifetime(pttl: number): number {
    const cap = this.o.ttlCapMs;
    return Math.max(1, Math.min(pttl > 0 ? pttl : cap, cap));
  }

  /** Keeps a value read from Redis here, unless a purge since the read was sent refused it; returns whether it did. */
  private keepFound(key: string, value: StoredValue, ttlMs: number, asked: Asked): boolean {
    return this.host.keepHere(key, value, ttlMs, this.steady(asked), asked.mark);
  }

  /** A message on P filled: the cacheKey whose fill lock was released. */
  onFilled(key: string): void {
    for (const w of this.waiters.get(key) ?? []) {
      w.filled = true;
      w.wake();
    }
  }

  /** A message on this instance's wait channel: "<lock token> <cacheKey>". */
  onWaiting(message: string): void {
    const space = message.indexOf(' ');
    if (space <= 0) return;
    const key = message.slice(space + 1);
    const fill = this.held.get(key);
    if (fill === undefined || !fill.lock.endsWith(' ' + message.slice(0, space))) return;
    fill.waited = true;
    if (fill.done) this.finish(key, fill);
  }

  /** Every miss waiting here goes on to ask Kratos (Redis went away; the store closes). */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const w of set) w.wake();
  }

  close(): void {
    this.wakeAll();
    this.waiters.clear();
    this.held.clear();
  }

  /** Done with a fill lock without a session to share: given back and the waiters told if there are any, else left to lapse. */
  private finish(key: string, fill: Fill | undefined): void {
    if (fill === undefined) return;
    fill.done = true;
    if (!fill.waited || fill.told || !this.host.up) return;
    fill.told = true;
    void within(this.host.cmd.kgRelease(this.o.keyPrefix + 's:' + key, fill.lock, this.filledChannel, key), this.o.timeoutMs).catch(
      () => {},
    );
  }

  /**
   * One miss's command. A waiter is registered before it is sent, so a fill notice that
   * overtakes the reply is not lost. Redis not answering in time: a miss kept here only.
   */
  private async loadOnce(key: string, asked: Asked): Promise<Step> {
    const w: Waiter = { filled: false, wake: () => {} };
    let set = this.waiters.get(key);
    if (set === undefined) this.waiters.set(key, (set = new Set()));
    set.add(w);
    const unregister = () => {
      set.delete(w);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
    const fill: Fill = {
      lock: `${FILL_LOCK}${this.o.origin} ${randomBytes(12).toString('base64url')}`,
      waited: false,
      done: false,
      told: false,
    };
    const s = this.o.keyPrefix + 's:' + key;
    let reply: string | null;
    try {
      reply = await within(this.host.cmd.set(s, fill.lock, 'PX', this.o.lockTtlMs, 'NX', 'GET'), this.o.timeoutMs);
    } catch (err) {
      unregister();
      // Answered after we gave up, it may have taken the lock (unless one of ours still holds
      // it): handed over if anyone waits on it, else it lapses.
      fill.done = true;
      if (!this.held.has(key)) this.held.set(key, fill);
      // Out of memory (noeviction) Redis refuses the SET, but still reads.
      const found = err instanceof ReplyError && (err as Error).message.startsWith('OOM') ? await this.read(key, asked) : undefined;
      return { kind: 'done', result: found ?? this.ticket(key, asked) };
    }
    if (reply === null) {
      unregister();
      this.held.set(key, fill);
      return { kind: 'done', result: this.ticket(key, { ...asked, fill }) };
    }
    if (!reply.startsWith(FILL_LOCK)) {
      unregister();
      return { kind: 'done', result: (await this.found(key, reply, asked)) ?? this.ticket(key, asked) };
    }
    const lock = reply;
    const wait = async (ms: number) => {
      if (!w.filled && ms > 0) {
        this.tellHolder(key, lock);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          w.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      unregister();
    };
    return { kind: 'wait', wait };
  }

  /**
   * A stored value as a load's result, kept here for its PTTL; undefined when unreadable or gone
   * meanwhile. One a purge here overtook is still the answer of the callers of this miss (they
   * came before the purge), but not kept: the purge dropped it from Redis too.
   */
  private async found(key: string, text: string, asked: Asked): Promise<SlowTierLoad | undefined> {
    // Unreadable (another format; another summary shape during a rolling update): a miss, kept here only.
    const value = decodeStoredValue(text, this.o.summaryShape);
    if (value === undefined) return undefined;
    const pttl = await within(this.host.cmd.pttl(this.o.keyPrefix + 's:' + key), this.o.timeoutMs).catch(() => -2);
    // Purged (or expired) since it was read, or Redis did not say: asked anew.
    if (pttl === -2) return undefined;
    const ttlMs = this.lifetime(pttl);
    this.keepFound(key, value, ttlMs, asked);
    return { found: { value, ttlMs }, keep: () => {}, release: () => {} };
  }

  private async read(key: string, asked: Asked): Promise<SlowTierLoad | undefined> {
    const text = await within(this.host.cmd.get(this.o.keyPrefix + 's:' + key), this.o.timeoutMs).catch(() => null);
    return text === null || text.startsWith(FILL_LOCK) ? undefined : this.found(key, text, asked);
  }

  /** Tells the instance holding `lock` ("fill <origin> <token>") that this one waits on it. */
  private tellHolder(key: string, lock: string): void {
    const [, origin, token] = lock.split(' ');
    if (origin === undefined || token === undefined || !/^[\w-]{1,64}$/.test(origin)) return;
    if (origin === this.o.origin) return this.onWaiting(`${token} ${key}`);
    if (!this.host.up) return;
    void within(this.host.cmd.publish(waitChannelOf(this.o.keyPrefix, origin), `${token} ${key}`), this.o.timeoutMs).catch(() => {});
  }
}
