import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { ThrottledWarnings, type Logger } from '../../log.js';
import type { Credential } from '../credentials/index.js';
import { KratosWhoamiClient, WhoamiUnavailable } from './kratos-whoami-client.js';
import { summarizeSession, summarySize, type SessionSummary } from './session-summary.js';
import type { CacheOutcome, LookupTrace, RequestTrace } from '../../tracing/types.js';

export type Resolution =
  | { status: 'authenticated'; session: SessionSummary; setCookie?: string[] }
  | { status: 'unauthenticated' }
  | { status: 'unavailable'; reason: WhoamiUnavailable['reason']; retryAfter?: string };

/** A negative entry: Kratos said this credential is not a session. */
const NOT_A_SESSION = { negative: true } as const;
/** `askedAt`: when the whoami call began (performance.now()), to spot purges that overtook it. */
type CacheValue = { negative: false; session: SessionSummary; setCookie?: string[]; askedAt: number } | typeof NOT_A_SESSION;
/** What a cache fetch needs: the credential, and the lookup span the whoami span belongs to (tracing on). */
type FetchContext = { credential: Credential; trace: LookupTrace | undefined };

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
  };
  /** Every `identity.…`/`session.…` path any header mapping reads. */
  valuePaths: readonly string[];
  metrics: GatewayMetrics;
  /** Why Kratos gave no answer is logged here at warn, at most once per reason per 10 s. */
  logger?: Logger;
}

/**
 * Credential → session, through an LRU cache with request coalescing. Keys are SHA-256 of
 * (credential kind, value, Kratos URL): raw tokens are never kept, and two Kratos
 * deployments can never share an entry (Oathkeeper GHSA-4mq7-pvjg-xp2r).
 */
export class SessionResolver {
  private readonly client: KratosWhoamiClient;
  private readonly cache: LRUCache<string, CacheValue, FetchContext> | undefined;
  /**
   * "Not a session" answers live in their own, smaller LRU: a flood of invalid tokens can then
   * never evict valid sessions from the main cache and turn every request into a whoami call.
   */
  private readonly negative: LRUCache<string, true> | undefined;
  /** identity id → cache keys, so one identity's sessions can be purged at once. */
  private readonly keysByIdentity = new Map<string, Set<string>>();
  /**
   * identity id → when it was last purged. A whoami already in flight during a purge is not
   * indexed yet, so the purge cannot reach it; its answer (possibly from before the change) is
   * dropped when it lands. Kept as long as a whoami call may take.
   */
  private readonly recentPurges: LRUCache<string, number> | undefined;
  private readonly keySalt: string;
  private readonly warnings: ThrottledWarnings | undefined;

  constructor(private readonly opts: SessionResolverOptions) {
    this.warnings = opts.logger && new ThrottledWarnings(opts.logger.child({ component: 'session-resolver' }));
    this.client = new KratosWhoamiClient(opts.kratosPublicUrl, opts.whoamiTimeoutMs, opts.connections);
    this.keySalt = '\0' + opts.kratosPublicUrl;
    const c = opts.cache;
    if (!c.enabled) return;
    this.negative = new LRUCache<string, true>({ max: Math.max(1_000, Math.floor(c.maxEntries / 10)), ttl: Math.max(1, c.negativeTtlMs) });
    this.recentPurges = new LRUCache<string, number>({ max: 10_000, ttl: opts.whoamiTimeoutMs + 1_000 });
    this.cache = new LRUCache<string, CacheValue, FetchContext>({
      max: c.maxEntries,
      maxSize: c.maxBytes,
      sizeCalculation: (v, key) => key.length + (v.negative ? 64 : summarySize(v.session)),
      ttl: c.ttlCapMs,
      updateAgeOnGet: false,
      allowStale: false,
      // The whoami call is shared by coalesced callers: one caller going away must not
      // abort it for the others, and its own budget is AbortSignal.timeout.
      ignoreFetchAbort: true,
      fetchMethod: async (key, _stale, { options, context }) => {
        const value = await this.fetchSession(context.credential, options, context.trace);
        if (!value.negative) return value;
        this.negative!.set(key, true, { ttl: options.ttl ?? c.negativeTtlMs });
        return undefined; // not stored in the main cache
      },
      dispose: (value, key) => {
        if (!value.negative) this.unindex(value.session.identityId, key);
      },
    });
  }

  get size(): number {
    return (this.cache?.size ?? 0) + (this.negative?.size ?? 0);
  }

  cacheKey(credential: Credential): string {
    // One-shot crypto.hash: a third of createHash()'s cost on the hot path.
    return hash('sha256', credential.source.kind + '\0' + credential.value + this.keySalt, 'base64url');
  }

  /** Not async itself: an async wrapper would add promise ticks to every request when tracing is off. */
  resolve(credential: Credential, trace?: RequestTrace): Promise<Resolution> {
    return trace === undefined ? this.lookup(credential, undefined) : this.resolveTraced(credential, trace);
  }

  /** The `session lookup` span around lookup(): its cache outcome and what it resolved to. */
  private async resolveTraced(credential: Credential, trace: RequestTrace): Promise<Resolution> {
    const span = trace.startLookup();
    const resolution = await this.lookup(credential, span);
    span.end(resolution.status);
    return resolution;
  }

  private counted(outcome: Exclude<CacheOutcome, 'disabled'>, span: LookupTrace | undefined): void {
    this.opts.metrics.cacheLookup(outcome);
    span?.cache(outcome);
  }

  private async lookup(credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    if (this.cache === undefined) {
      span?.cache('disabled');
      return this.resolveUncached(credential, span);
    }
    const key = this.cacheKey(credential);
    const cached = this.cache.get(key);
    if (cached !== undefined && !cached.negative) {
      this.counted('hit', span);
      return { status: 'authenticated', session: cached.session };
    }
    if (this.negative!.has(key)) {
      this.counted('negative_hit', span);
      return { status: 'unauthenticated' };
    }
    const calledAt = performance.now();
    const status: LRUCache.Status<string, CacheValue, FetchContext> = {};
    // One lookup per request in the metric: a re-ask below that fails must not count it again.
    let lookupCounted = false;
    try {
      let value = await this.cache.fetch(key, { context: { credential, trace: span }, status });
      const performedFetch = status.fetch === 'miss';
      this.counted(performedFetch ? 'miss' : 'coalesced', span);
      lookupCounted = true;
      // An answer whose whoami began before a purge of its identity may be from before the
      // change the purge is for (a revocation, new traits). It is never kept. A caller that
      // arrived after the purge, coalesced onto that whoami, asks again: the request after a
      // revocation is judged by Kratos's answer after it. A caller from before the purge was
      // concurrent with the change and takes the answer as Kratos gave it.
      for (let asked = 1; value !== undefined && !value.negative; asked++) {
        const purgedAt = this.recentPurges!.get(value.session.identityId) ?? -Infinity;
        if (purgedAt < value.askedAt) break;
        if (this.cache.peek(key) === value) this.cache.delete(key);
        if (calledAt <= purgedAt) break;
        // Purges of this identity landing during every re-ask: no answer can be trusted.
        if (asked === 3) return { status: 'unavailable', reason: 'connect' };
        value = await this.cache.fetch(key, { context: { credential, trace: span } });
      }
      if (value === undefined || value.negative) return { status: 'unauthenticated' };
      // A refreshed session cookie goes back only to the caller(s) of this very fetch.
      return value.setCookie && (performedFetch || status.fetch === 'inflight')
        ? { status: 'authenticated', session: value.session, setCookie: value.setCookie }
        : { status: 'authenticated', session: value.session };
    } catch (err) {
      if (!lookupCounted) this.counted(status.fetch === 'inflight' ? 'coalesced' : 'miss', span);
      return unavailable(err);
    }
  }

  /** Removes every cached session of the identity this credential belongs to (its traits changed). */
  purgeIdentityOf(credential: Credential): void {
    if (this.cache === undefined) return;
    const key = this.cacheKey(credential);
    const entry = this.cache.peek(key);
    // A whoami for this credential in flight is invisible to peek; deleting it still works:
    // lru-cache (ignoreFetchAbort, no allowStaleOnFetchAbort) then never stores its answer,
    // and a later caller starts a new whoami instead of coalescing onto it.
    this.cache.delete(key);
    if (entry && !entry.negative) this.purgeIdentity(entry.session.identityId);
  }

  /** Removes every cached session of an identity (after an admin-side revocation). Returns how many. */
  purgeIdentity(identityId: string): number {
    if (this.cache === undefined) return 0;
    this.recentPurges!.set(identityId, performance.now());
    const keys = [...(this.keysByIdentity.get(identityId) ?? [])];
    for (const key of keys) this.cache.delete(key);
    this.keysByIdentity.delete(identityId);
    return keys.length;
  }

  async close(): Promise<void> {
    this.cache?.clear();
    this.negative?.clear();
    await this.client.close();
  }

  private async resolveUncached(credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    try {
      const value = await this.fetchSession(credential, undefined, span);
      return value.negative ? { status: 'unauthenticated' } : { status: 'authenticated', session: value.session, ...(value.setCookie ? { setCookie: value.setCookie } : {}) };
    } catch (err) {
      return unavailable(err);
    }
  }

  private async fetchSession(credential: Credential | undefined, options: { ttl?: number } | undefined, lookup: LookupTrace | undefined): Promise<CacheValue> {
    if (credential === undefined) throw new Error('session fetch without a credential');
    const started = performance.now();
    const c = this.opts.cache;
    let answer;
    let summary: SessionSummary | 'inactive';
    const now = Date.now();
    // Coalesced callers never get here: the whoami span belongs to the first requester's lookup.
    const span = lookup?.startWhoami();
    try {
      answer = await this.client.whoami(credential, span?.headers);
      summary = answer.kind === 'active' ? summarizeSessionOrError(answer.body, this.opts.valuePaths, now) : 'inactive';
      span?.end(summary === 'inactive' ? 'unauthorized' : 'active', false);
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
      if (options) options.ttl = Math.max(1, Math.min(c.negativeTtlMs, cacheFor ?? Number.POSITIVE_INFINITY));
      return NOT_A_SESSION;
    }
    this.opts.metrics.whoami('active', seconds);
    if (options) {
      options.ttl = Math.max(1, Math.min(c.ttlCapMs, summary.expiresAtMs - now, cacheFor ?? Number.POSITIVE_INFINITY));
      this.index(summary.identityId, this.cacheKey(credential));
    }
    const setCookie = answer.kind === 'active' ? answer.setCookie : undefined;
    return setCookie ? { negative: false, session: summary, setCookie, askedAt: started } : { negative: false, session: summary, askedAt: started };
  }

  /** Once per whoami call (not per coalesced caller). The credential is never part of the line. */
  private warnUnavailable(err: unknown): void {
    if (this.warnings === undefined) return;
    const e = err instanceof WhoamiUnavailable ? err : new WhoamiUnavailable('connect', `Kratos whoami failed: ${(err as Error).message}`);
    this.warnings.warn(
      e.message,
      { reason: e.reason, ...(e.detail.code !== undefined && { code: e.detail.code }), ...(e.detail.status !== undefined && { kratos_status: e.detail.status }), kratos: this.opts.kratosPublicUrl },
      e.message,
    );
  }

  private index(identityId: string, key: string): void {
    let keys = this.keysByIdentity.get(identityId);
    if (keys === undefined) this.keysByIdentity.set(identityId, (keys = new Set()));
    keys.add(key);
  }

  private unindex(identityId: string, key: string): void {
    const keys = this.keysByIdentity.get(identityId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.keysByIdentity.delete(identityId);
  }
}

function summarizeSessionOrError(body: unknown, paths: readonly string[], now: number): SessionSummary | 'inactive' {
  try {
    return summarizeSession(body, paths, now);
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
