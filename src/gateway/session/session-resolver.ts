import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { redactUrl } from '../../config/redact.js';
import { ThrottledWarnings, type Logger } from '../../log.js';
import type { Credential } from '../credentials/index.js';
import { KratosWhoamiClient, WhoamiUnavailable } from './kratos-whoami-client.js';
import { summarizeSession, type SessionSummary } from './session-summary.js';
import { SummaryLayout } from './packed-summary.js';
import { Coalescer, type Flight } from './coalescer.js';
import { MemorySessionStore } from './store/memory-store.js';
import { NOT_A_SESSION, type NotASession, type SessionStore, type SlowTierLoad } from './store/session-store.js';
import type { CacheOutcome, LookupTrace, RequestTrace } from '../../tracing/types.js';

export type Resolution =
  | { status: 'authenticated'; session: SessionSummary; setCookie?: string[] }
  | { status: 'unauthenticated' }
  /**
   * Kratos v1+ answered `403 session_aal2_required`: a real session that still needs its second
   * factor. Not a session for this request (fail closed), but the browser is to be sent to
   * step up, not to a plain login. `redirectBrowserTo` is Kratos's URL, not yet validated.
   */
  | { status: 'step_up'; reason: string; redirectBrowserTo: string | undefined }
  | { status: 'unavailable'; reason: WhoamiUnavailable['reason']; retryAfter?: string };

/**
 * What one whoami call (or store load) gave, as its coalesced callers see it. `askedAt`: when
 * it began (performance.now()), to spot purges that overtook it. Not what the store keeps: the
 * store holds only the summary; `setCookie` goes only to the callers of this very call.
 */
type Answer =
  /** `fromStore`: found in the store's slower tier (not asked of Kratos now): may be old enough to re-check. */
  | { negative: false; session: SessionSummary; setCookie?: string[]; askedAt: number; ttlMs: number; fromStore?: true }
  | (NotASession & { ttlMs?: number })
  | { negative: true; stepUp: StepUp; ttlMs: number };

type StepUp = Extract<Resolution, { status: 'step_up' }>;

/** Shared by every "no session" answer: a negative hit allocates nothing (Resolutions are never mutated). */
export const UNAUTHENTICATED: Resolution = Object.freeze({ status: 'unauthenticated' as const });

/**
 * A step-up answer is kept at most this long. The credential does not change when the user
 * steps up (Kratos raises the AAL of the same session), so a longer entry would keep refusing
 * a session that is already aal2. A step-up through the mount purges the entry at once; this
 * bounds the delay when the user steps up at Kratos directly.
 */
export const STEP_UP_TTL_CAP_MS = 1_000;

export interface SessionResolverOptions {
  kratosPublicUrl: string;
  whoamiTimeoutMs: number;
  connections: number;
  cache: {
    enabled: boolean;
    maxEntries: number;
    maxBytes: number;
    ttlCapMs: number;
    negativeTtlMs: number;
    honourCacheForHeader: boolean;
    /** A session older than this is served while one background whoami checks it again (absent: never). */
    revalidateAfterMs?: number | undefined;
  };
  /** Every `identity.…`/`session.…` path header mappings, policies and the assertion read. */
  valuePaths: readonly string[];
  metrics: GatewayMetrics;
  /** Why Kratos gave no answer is logged here at warn, at most once per reason per 10 s. */
  logger?: Logger;
  /** The session store when the cache is enabled (closed with the resolver); default an in-memory store sized by `cache`. */
  store?: SessionStore;
  /** `identity_assertion.tokenize_as`: whoami asks for Kratos's JWT, and every session answer must carry it. */
  tokenizeAs?: string;
}

/**
 * Credential → session: hashed cache key → store (synchronous on a hit) → one coalesced whoami
 * per key on a miss → store. Keys are SHA-256 of (credential kind, value, Kratos URL): raw
 * tokens are never kept, and two Kratos deployments can never share an entry (Oathkeeper
 * GHSA-4mq7-pvjg-xp2r).
 */
export class SessionResolver {
  private readonly client: KratosWhoamiClient;
  private readonly store: SessionStore | undefined;
  private readonly flights = new Coalescer<Answer>();
  private readonly unsubscribe: (() => void) | undefined;
  /**
   * identity id → when it was last purged (here or, through the store, elsewhere). A whoami
   * already in flight during a purge is not in the store yet, so the purge cannot reach it; its
   * answer (possibly from before the change) is dropped when it lands. Kept as long as a whoami
   * call may take.
   */
  private readonly recentPurges: LRUCache<string, number> | undefined;
  private readonly keySalt: string;
  /**
   * Cache key → a recent step-up answer. Kept beside the store, never in it: it is not a
   * session (it must never be served as one, nor evict one) and not a plain "no session" (a
   * browser must still be sent to step up). Process-local and short (STEP_UP_TTL_CAP_MS).
   */
  private readonly stepUps: LRUCache<string, StepUp> | undefined;
  private readonly warnings: ThrottledWarnings | undefined;
  /** The Kratos URL as log lines show it: a password in it (basic auth in front of Kratos) is `***`. */
  private readonly kratosForLogs: string;
  /** session_cache.revalidate_after_ms; undefined when off (the hit path then reads no clock). */
  private readonly revalidateAfterMs: number | undefined;
  /**
   * Cache keys re-checked lately (or being re-checked): at most one background whoami per key
   * per revalidateAfterMs from this instance, whatever the request rate.
   */
  private readonly revalidating: LRUCache<string, true> | undefined;
  /** valuePaths with their slots, once per configuration: what every summary is packed by. */
  private readonly layout: SummaryLayout;

  constructor(private readonly opts: SessionResolverOptions) {
    this.layout = new SummaryLayout(opts.valuePaths);
    this.warnings = opts.logger && new ThrottledWarnings(opts.logger.child({ component: 'session-resolver' }));
    this.kratosForLogs = redactUrl(opts.kratosPublicUrl);
    this.client = new KratosWhoamiClient(opts.kratosPublicUrl, opts.whoamiTimeoutMs, opts.connections, opts.tokenizeAs);
    // The template too: an entry kept without Kratos's JWT (or with another template's) is never found by a tokenizing gateway.
    this.keySalt = '\0' + opts.kratosPublicUrl + (opts.tokenizeAs === undefined ? '' : '\0tokenize_as=' + opts.tokenizeAs);
    const c = opts.cache;
    if (!c.enabled) return;
    this.recentPurges = new LRUCache<string, number>({ max: 10_000, ttl: opts.whoamiTimeoutMs + 1_000 });
    this.stepUps = new LRUCache<string, StepUp>({ max: 10_000, ttl: STEP_UP_TTL_CAP_MS });
    this.revalidateAfterMs = c.revalidateAfterMs;
    if (c.revalidateAfterMs !== undefined) this.revalidating = new LRUCache<string, true>({ max: 100_000, ttl: c.revalidateAfterMs });
    this.store =
      opts.store ??
      new MemorySessionStore({ maxEntries: c.maxEntries, maxBytes: c.maxBytes, ttlCapMs: c.ttlCapMs, negativeTtlMs: c.negativeTtlMs });
    // Invalidations from elsewhere take the same path as local purges, minus the store call:
    // the store has already dropped the entries, and must not publish them back.
    this.unsubscribe = this.store.subscribe((inv) => {
      if ('key' in inv) {
        this.flights.forget(inv.key);
        this.stepUps!.delete(inv.key);
      } else this.recentPurges!.set(inv.identityId, performance.now());
    });
  }

  get size(): number {
    return this.store?.size ?? 0;
  }

  /** Estimated bytes of the cached sessions (session_cache.max_bytes accounting), when the store counts them. */
  get cacheBytes(): number | undefined {
    return this.store?.bytes;
  }

  cacheKey(credential: Credential): string {
    // One-shot crypto.hash: a third of createHash()'s cost on the hot path.
    return hash('sha256', credential.source.kind + '\0' + credential.value + this.keySalt, 'base64url');
  }

  /** Always a promise: for callers off the hot path (the Kratos mount, tests). */
  resolve(credential: Credential, trace?: RequestTrace): Promise<Resolution> {
    try {
      const r = this.resolveNow(credential, trace);
      return r instanceof Promise ? r : Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * The hot path's form: a Resolution directly when the store answers synchronously (a hit or a
   * negative hit), a Promise only when Kratos or the store's slower tier has to be asked. A
   * cached session costs no promise and no tick.
   */
  resolveNow(credential: Credential, trace?: RequestTrace): Resolution | Promise<Resolution> {
    if (trace === undefined) return this.lookup(credential, undefined);
    // The `session lookup` span around lookup(): its cache outcome and what it resolved to.
    const span = trace.startLookup();
    const resolution = this.lookup(credential, span);
    if (!(resolution instanceof Promise)) {
      span.end(resolution.status);
      return resolution;
    }
    return resolution.then((r) => {
      span.end(r.status);
      return r;
    });
  }

  private counted(outcome: Exclude<CacheOutcome, 'disabled'>, span: LookupTrace | undefined): void {
    this.opts.metrics.cacheLookup(outcome);
    span?.cache(outcome);
  }

  private lookup(credential: Credential, span: LookupTrace | undefined): Resolution | Promise<Resolution> {
    const store = this.store;
    if (store === undefined) {
      span?.cache('disabled');
      return this.resolveUncached(credential, span);
    }
    const key = this.cacheKey(credential);
    const stepUp = this.stepUps!.get(key);
    if (stepUp !== undefined) {
      this.counted('negative_hit', span);
      return stepUp;
    }
    const cached = store.get(key);
    if (cached !== undefined) {
      if (cached === NOT_A_SESSION) {
        this.counted('negative_hit', span);
        return UNAUTHENTICATED;
      }
      this.counted('hit', span);
      if (this.revalidateAfterMs !== undefined) this.revalidateIfOld(store, key, credential, cached as SessionSummary);
      return { status: 'authenticated', session: cached as SessionSummary };
    }
    return this.miss(store, key, credential, span);
  }

  /**
   * Stale-while-revalidate: the request is answered from the entry at once; an entry older than
   * revalidateAfterMs gets one background whoami (one per fleet when the store can claim it),
   * so a revocation made at Kratos directly is seen within revalidateAfterMs plus one whoami.
   */
  private revalidateIfOld(store: SessionStore, key: string, credential: Credential, session: SessionSummary): void {
    const checkedAt = session.checkedAtMs;
    if (checkedAt === undefined || Date.now() - checkedAt < this.revalidateAfterMs!) return;
    if (this.revalidating!.has(key) || this.flights.has(key)) return;
    this.revalidating!.set(key, true);
    void this.revalidate(store, key, credential, checkedAt);
  }

  private async revalidate(store: SessionStore, key: string, credential: Credential, checkedAt: number): Promise<void> {
    const metrics = this.opts.metrics;
    try {
      const claim =
        store.claimRevalidation === undefined ? undefined : await store.claimRevalidation(key, checkedAt, this.revalidateAfterMs!);
      if (claim?.outcome === 'refreshed') return void this.revalidating!.delete(key);
      // Stays in `revalidating`: asked again after revalidateAfterMs, should that instance fail.
      if (claim?.outcome === 'elsewhere') return metrics.revalidation('elsewhere');
      const load = claim?.load;
      // A flight like a miss's: a purge meanwhile forgets it (its answer is not kept), and a
      // miss for this key (after such a purge) starts its own whoami.
      const flight = this.flights.run(key, async (f) => {
        try {
          const answer = await this.fetchSession(credential, undefined);
          if (!f.forgotten && answer.negative) {
            // No longer a session: every instance drops its copy, not only this one.
            await store.delete(key);
          }
          return this.keep(store, key, answer, f, load);
        } finally {
          load?.release();
        }
      });
      const answer = await flight.promise;
      metrics.revalidation(!answer.negative ? 'active' : 'stepUp' in answer ? 'step_up' : 'revoked');
      this.revalidating!.delete(key);
    } catch {
      // Kratos gave no answer (already counted and logged by fetchSession): the entry is kept,
      // bounded by ttl_cap_ms as always, and asked again after revalidateAfterMs.
      metrics.revalidation('error');
    }
  }

  private async miss(store: SessionStore, key: string, credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    const calledAt = performance.now();
    let flight = this.flights.run(key, (f) => this.fetchAndKeep(store, key, credential, span, f));
    // One lookup per request in the metric: a re-ask below that fails must not count it again.
    let lookupCounted = false;
    try {
      let value = await flight.promise;
      this.counted(flight.joined ? 'coalesced' : 'miss', span);
      lookupCounted = true;
      // An answer whose whoami began before a purge of its identity may be from before the
      // change the purge is for (a revocation, new traits). It is never kept. A caller that
      // arrived after the purge, coalesced onto that whoami, asks again: the request after a
      // revocation is judged by Kratos's answer after it. A caller from before the purge was
      // concurrent with the change and takes the answer as Kratos gave it.
      for (let asked = 1; !value.negative; asked++) {
        const purgedAt = this.recentPurges!.get(value.session.identityId) ?? -Infinity;
        if (purgedAt < value.askedAt) break;
        if (calledAt <= purgedAt) break;
        // Purges of this identity landing during every re-ask: no answer can be trusted.
        if (asked === 3) return { status: 'unavailable', reason: 'connect' };
        // Kept only if asked after every purge of its identity, and dropped by any later one.
        const kept = store.get(key);
        if (kept !== undefined)
          return kept === NOT_A_SESSION ? UNAUTHENTICATED : { status: 'authenticated', session: kept as SessionSummary };
        flight = this.flights.run(key, (f) => this.fetchAndKeep(store, key, credential, span, f));
        value = await flight.promise;
      }
      if (value.negative) return 'stepUp' in value ? value.stepUp : UNAUTHENTICATED;
      // Found in the slower tier (another instance's answer): re-checked when old, as a hit would be.
      if (value.fromStore && this.revalidateAfterMs !== undefined) this.revalidateIfOld(store, key, credential, value.session);
      // A refreshed session cookie goes back only to the caller(s) of this very whoami.
      return value.setCookie
        ? { status: 'authenticated', session: value.session, setCookie: value.setCookie }
        : { status: 'authenticated', session: value.session };
    } catch (err) {
      if (!lookupCounted) this.counted(flight.joined ? 'coalesced' : 'miss', span);
      return unavailable(err);
    }
  }

  /**
   * The shared call behind a miss: the store's slower tier if it has one, else Kratos; the
   * answer is kept unless a purge overtook it. Runs once per key for concurrent misses.
   */
  private async fetchAndKeep(
    store: SessionStore,
    key: string,
    credential: Credential,
    span: LookupTrace | undefined,
    flight: Flight<Answer>,
  ): Promise<Answer> {
    const slow = store.load === undefined ? undefined : await this.loadSlowTier(store, key, flight);
    if (slow !== undefined && 'negative' in slow) return slow;
    try {
      return this.keep(store, key, await this.fetchSession(credential, span), flight, slow);
    } finally {
      // Step-up answers, failures and purged answers are not kept: waiters elsewhere ask themselves.
      slow?.release();
    }
  }

  /**
   * Keeps Kratos's answer unless a purge overtook it (through the slow-tier load when there is
   * one, which lets the shared tier refuse it too); returns it either way.
   */
  private keep(store: SessionStore, key: string, answer: Answer, flight: Flight<Answer>, slow?: SlowTierLoad): Answer {
    // Detached by a purge of this credential while in flight: answered, never kept.
    if (flight.forgotten) return answer;
    const keep = (value: SessionSummary | NotASession, ttlMs: number) =>
      slow === undefined ? store.set(key, value, ttlMs) : slow.keep(value, ttlMs);
    if ('stepUp' in answer) this.stepUps!.set(key, answer.stepUp, { ttl: answer.ttlMs });
    else if (answer.negative) keep(NOT_A_SESSION, answer.ttlMs!);
    else {
      this.stepUps!.delete(key);
      if (!this.purgedSince(answer.session.identityId, answer.askedAt)) keep(answer.session, answer.ttlMs);
    }
    return answer;
  }

  /** The store's slower tier: its answer, or the load to keep Kratos's answer through. */
  private async loadSlowTier(store: SessionStore, key: string, flight: Flight<Answer>): Promise<Answer | SlowTierLoad> {
    const askedAt = performance.now();
    const loaded = await store.load!(key);
    if (loaded.found === undefined) return loaded;
    loaded.release();
    const { value, ttlMs } = loaded.found;
    if (value === NOT_A_SESSION) return NOT_A_SESSION;
    const session = value as SessionSummary;
    if (flight.forgotten || this.purgedSince(session.identityId, askedAt)) void store.delete(key);
    return { negative: false, session, askedAt, ttlMs, fromStore: true };
  }

  private purgedSince(identityId: string, askedAt: number): boolean {
    return (this.recentPurges!.get(identityId) ?? -Infinity) >= askedAt;
  }

  /**
   * Removes the cached answer for one credential only (here at once and, with a shared tier,
   * fleet-wide), leaving the identity's other sessions: the admin purge by credential.
   */
  async purgeCredential(credential: Credential): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    const key = this.cacheKey(credential);
    this.flights.forget(key);
    this.stepUps!.delete(key);
    await store.delete(key);
  }

  /**
   * Removes every cached session of the identity this credential belongs to (its traits
   * changed). Done in this process before it returns; the promise settles once the fleet's
   * shared tier has the invalidation (or gave up within its timeout): a response written
   * after it cannot overtake the purge. Never rejects.
   */
  async purgeIdentityOf(credential: Credential): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    const key = this.cacheKey(credential);
    const entry = store.get(key);
    // A whoami for this credential in flight is not in the store: forgetting it means its
    // answer is never kept, and a later caller starts a new whoami instead of joining it.
    this.flights.forget(key);
    const deleted = store.delete(key);
    // A step-up through the mount ends in a credentialed, mutating request: the next request is asked anew.
    this.stepUps!.delete(key);
    const purged = entry !== undefined && entry !== NOT_A_SESSION ? this.purgeIdentity((entry as SessionSummary).identityId) : undefined;
    await Promise.all([deleted, purged]);
  }

  /**
   * Removes every cached session of an identity (after an admin-side revocation), here at once
   * and, with a shared tier, fleet-wide: see purgeIdentityOf. Resolves with how many entries
   * were removed.
   */
  purgeIdentity(identityId: string): Promise<number> {
    if (this.store === undefined) return Promise.resolve(0);
    this.recentPurges!.set(identityId, performance.now());
    return this.store.purgeIdentity(identityId);
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.store?.close();
    await this.client.close();
  }

  private async resolveUncached(credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    try {
      const value = await this.fetchSession(credential, span);
      if ('stepUp' in value) return value.stepUp;
      return value.negative
        ? UNAUTHENTICATED
        : { status: 'authenticated', session: value.session, ...(value.setCookie ? { setCookie: value.setCookie } : {}) };
    } catch (err) {
      return unavailable(err);
    }
  }

  private async fetchSession(credential: Credential, lookup: LookupTrace | undefined): Promise<Answer> {
    const started = performance.now();
    const c = this.opts.cache;
    let answer;
    let summary: SessionSummary | 'inactive';
    const now = Date.now();
    // Coalesced callers never get here: the whoami span belongs to the first requester's lookup.
    const span = lookup?.startWhoami();
    try {
      answer = await this.client.whoami(credential, span?.headers);
      summary =
        answer.kind === 'active' ? summarizeSessionOrError(answer.body, this.layout, now, this.opts.tokenizeAs !== undefined) : 'inactive';
      span?.end(summary === 'inactive' ? (answer.kind === 'aal2_required' ? 'aal2_required' : 'unauthorized') : 'active', false);
    } catch (err) {
      span?.end(err instanceof WhoamiUnavailable ? err.reason : 'error', true);
      const rateLimited = err instanceof WhoamiUnavailable && err.reason === 'rate_limited';
      this.opts.metrics.whoami(rateLimited ? 'rate_limited' : 'error', (performance.now() - started) / 1000);
      this.warnUnavailable(err);
      throw err;
    }
    const seconds = (performance.now() - started) / 1000;
    const cacheFor = c.honourCacheForHeader ? answer.cacheForMs : undefined;
    if (summary === 'inactive') {
      this.opts.metrics.whoami('unauthorized', seconds);
      // Kratos (whoami caching on) sends `Ory-Session-Cache-For: 60` on a 401 for missing
      // credentials: honoured as an upper bound, never beyond negative_ttl_ms.
      const ttlMs = Math.max(1, Math.min(c.negativeTtlMs, cacheFor ?? Number.POSITIVE_INFINITY));
      if (answer.kind === 'aal2_required') {
        const stepUp: StepUp = { status: 'step_up', reason: answer.reason, redirectBrowserTo: answer.redirectBrowserTo };
        return { negative: true, stepUp, ttlMs: Math.min(ttlMs, STEP_UP_TTL_CAP_MS) };
      }
      return { negative: true, ttlMs };
    }
    this.opts.metrics.whoami('active', seconds);
    // Kratos sends no Ory-Session-Cache-For with a tokenized session: its JWT's exp bounds the entry instead.
    const keepUntilMs = summary.tokenized?.keepUntilMs ?? Number.POSITIVE_INFINITY;
    const ttlMs = Math.max(1, Math.min(c.ttlCapMs, summary.expiresAtMs - now, keepUntilMs - now, cacheFor ?? Number.POSITIVE_INFINITY));
    const setCookie = answer.kind === 'active' ? answer.setCookie : undefined;
    return setCookie
      ? { negative: false, session: summary, setCookie, askedAt: started, ttlMs }
      : { negative: false, session: summary, askedAt: started, ttlMs };
  }

  /** Once per whoami call (not per coalesced caller). The credential is never part of the line. */
  private warnUnavailable(err: unknown): void {
    if (this.warnings === undefined) return;
    const e = err instanceof WhoamiUnavailable ? err : new WhoamiUnavailable('connect', `Kratos whoami failed: ${(err as Error).message}`);
    this.warnings.warn(
      e.message,
      {
        reason: e.reason,
        ...(e.detail.code !== undefined && { code: e.detail.code }),
        ...(e.detail.status !== undefined && { kratos_status: e.detail.status }),
        kratos: this.kratosForLogs,
      },
      e.message,
    );
  }
}

function summarizeSessionOrError(body: unknown, layout: SummaryLayout, now: number, tokenized: boolean): SessionSummary | 'inactive' {
  try {
    return summarizeSession(body, layout, now, tokenized);
  } catch (err) {
    throw new WhoamiUnavailable('bad_body', (err as Error).message);
  }
}

function unavailable(err: unknown): Resolution {
  if (err instanceof WhoamiUnavailable) {
    return err.retryAfter !== undefined
      ? { status: 'unavailable', reason: err.reason, retryAfter: err.retryAfter }
      : { status: 'unavailable', reason: err.reason };
  }
  return { status: 'unavailable', reason: 'connect' };
}
