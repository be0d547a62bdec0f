import { LRUCache } from 'lru-cache';
import type { Credential } from '../pipeline/credentials/index.js';
import type { CacheOutcome, LookupTrace, RequestTrace } from '../../observability/tracing/types.js';
import type { SessionSummary } from './session-summary.js';
import { Coalescer, type Flight } from './coalescer.js';
import { cacheKeyer, identityScope, scopedIdentityId } from './cache-key.js';
import { UNAUTHENTICATED, unavailable, type Resolution, type StepUp } from './resolution.js';
import { Revalidation } from './revalidation.js';
import { STEP_UP_TTL_CAP_MS, WhoamiAnswers, type Answer, type WhoamiAnswerOptions } from './whoami-answer.js';
import { NOT_A_SESSION, type NotASession, type SessionStore, type SlowTierLoad } from './store/session-store.js';

export { STEP_UP_TTL_CAP_MS, UNAUTHENTICATED, type Resolution };

export interface SessionResolverOptions extends Omit<WhoamiAnswerOptions, 'cache'> {
  cache: WhoamiAnswerOptions['cache'] & {
    enabled: boolean;
    /** A session older than this is served while one background whoami checks it again (absent: never). */
    revalidateAfterMs?: number | undefined;
  };
  /** The session cache (createSessionStore), closed with the resolver; without one (or with the cache off) every lookup asks Kratos. */
  store?: SessionStore;
  /** The store is shared with other resolvers (one per Kratos of kratos_instances) and closed by its owner, not by this one. */
  sharesStore?: boolean;
}

/**
 * Credential → session: hashed cache key (cache-key.ts) → store (synchronous on a hit) → one
 * coalesced whoami per key on a miss (whoami-answer.ts) → store. Purges reach the store and
 * detach the whoami in flight for the key; the store refuses an answer a purge overtook.
 */
export class SessionResolver {
  private readonly whoami: WhoamiAnswers;
  private readonly store: SessionStore | undefined;
  private readonly flights = new Coalescer<Answer>();
  private readonly unsubscribe: (() => void) | undefined;
  private readonly keyOf: (credential: Credential) => string;
  /**
   * Cache key → a recent step-up answer. Kept beside the store, never in it: it is not a
   * session (it must never be served as one, nor evict one) and not a plain "no session" (a
   * browser must still be sent to step up). Process-local and short (STEP_UP_TTL_CAP_MS).
   */
  private readonly stepUps: LRUCache<string, StepUp> | undefined;
  /** session_cache.revalidate_after_ms; undefined when off (the hit path then reads no clock). */
  private readonly revalidation: Revalidation | undefined;

  constructor(private readonly opts: SessionResolverOptions) {
    this.whoami = new WhoamiAnswers(opts);
    this.keyOf = cacheKeyer(opts.kratosPublicUrl, opts.tokenizeAs, opts.kratos);
    const c = opts.cache;
    if (!c.enabled || opts.store === undefined) return;
    const store = opts.store;
    this.store = store;
    this.stepUps = new LRUCache<string, StepUp>({ max: 10_000, ttl: STEP_UP_TTL_CAP_MS });
    if (c.revalidateAfterMs !== undefined)
      this.revalidation = new Revalidation(
        c.revalidateAfterMs,
        opts.metrics,
        (key) => this.flights.has(key),
        (s, key, credential, load) => this.recheck(s, key, credential, load),
      );
    // A key invalidated elsewhere takes the local purge's path, minus the store call: the store
    // has already dropped the entry, and must not publish it back. (Identity purges need nothing
    // here: the store records them, and refuses the answers they overtook.)
    this.unsubscribe = store.subscribe((inv) => {
      if (!('key' in inv)) return;
      this.flights.forget(inv.key);
      this.stepUps!.delete(inv.key);
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
    return this.keyOf(credential);
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
    this.opts.metrics.cacheLookup(outcome, this.opts.kratos);
    span?.cache(outcome);
  }

  private lookup(credential: Credential, span: LookupTrace | undefined): Resolution | Promise<Resolution> {
    const store = this.store;
    if (store === undefined) {
      span?.cache('disabled');
      return this.whoami.resolve(credential, span);
    }
    const key = this.keyOf(credential);
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
      this.revalidation?.ifOld(store, key, credential, cached as SessionSummary);
      return { status: 'authenticated', session: cached as SessionSummary };
    }
    return this.miss(store, key, credential, span);
  }

  private async miss(store: SessionStore, key: string, credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    const purges = store.purges;
    const calledAt = purges?.mark() ?? 0;
    let flight = this.flights.run(key, (f) => this.fetchAndKeep(store, key, credential, span, f));
    // One lookup per request in the metric: a re-ask below that fails must not count it again.
    let lookupCounted = false;
    try {
      let value = await flight.promise;
      this.counted(flight.joined ? 'coalesced' : 'miss', span);
      lookupCounted = true;
      // An answer asked before a purge of its identity may be from before the change the purge
      // is for (a revocation, new traits); the store did not keep it. A caller that arrived
      // after the purge, coalesced onto that whoami, asks again: the request after a revocation
      // is judged by Kratos's answer after it. A caller from before the purge was concurrent
      // with the change and takes the answer as Kratos gave it (so does one that came before it
      // was asked: any purge since is since it came). When the record has lost the identity (a
      // flood of other purges), each question is answered the safe way: "purged since it was
      // asked", and "not known to be purged since this caller came", so that caller asks again.
      for (let asked = 1; !value.negative && purges !== undefined && calledAt > value.askedAt; asked++) {
        const identityId = identityScope(key, value.session.identityId);
        if (!purges.identityPurgedSince(value.askedAt, identityId) || purges.identityPurgeRecordedSince(calledAt, identityId)) break;
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
      if (value.fromStore) this.revalidation?.ifOld(store, key, credential, value.session);
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
   * answer is handed to the store to keep. Runs once per key for concurrent misses.
   */
  private async fetchAndKeep(
    store: SessionStore,
    key: string,
    credential: Credential,
    span: LookupTrace | undefined,
    flight: Flight<Answer>,
  ): Promise<Answer> {
    const slow = store.load === undefined ? undefined : await this.loadSlowTier(store, key);
    if (slow !== undefined && 'negative' in slow) return slow;
    try {
      return this.keep(store, key, await this.whoami.ask(credential, span, store.purges?.mark() ?? 0), flight, slow);
    } finally {
      // Step-up answers, failures and purged answers are not kept: waiters elsewhere ask themselves.
      slow?.release();
    }
  }

  /** A re-check of an old entry (revalidation.ts): a flight a miss would join, kept as a miss's answer is. */
  private recheck(store: SessionStore, key: string, credential: Credential, load: SlowTierLoad | undefined): Promise<Answer> {
    // A purge meanwhile forgets the flight (its answer is not kept), and a miss for this key
    // (after such a purge) starts its own whoami.
    return this.flights.run(key, async (f) => {
      try {
        const answer = await this.whoami.ask(credential, undefined, store.purges?.mark() ?? 0);
        // No longer a session: every instance drops its copy, not only this one.
        if (!f.forgotten && answer.negative) await store.delete(key);
        return this.keep(store, key, answer, f, load);
      } finally {
        load?.release();
      }
    }).promise;
  }

  /**
   * Hands Kratos's answer to the store (through the slow-tier load when there is one, which
   * refuses an answer a purge overtook); returns it either way.
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
      keep(answer.session, answer.ttlMs);
    }
    return answer;
  }

  /** The store's slower tier: its answer, or the load to keep Kratos's answer through. */
  private async loadSlowTier(store: SessionStore, key: string): Promise<Answer | SlowTierLoad> {
    const askedAt = store.purges?.mark() ?? 0;
    const loaded = await store.load!(key);
    if (loaded.found === undefined) return loaded;
    loaded.release();
    const { value, ttlMs } = loaded.found;
    if (value === NOT_A_SESSION) return NOT_A_SESSION;
    return { negative: false, session: value as SessionSummary, askedAt, ttlMs, fromStore: true };
  }

  /**
   * Removes the cached answer for one credential only (here at once and, with a shared tier,
   * fleet-wide), leaving the identity's other sessions: the admin purge by credential.
   */
  async purgeCredential(credential: Credential): Promise<void> {
    if (this.store !== undefined) await this.purgeKey(this.store, this.keyOf(credential));
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
    const key = this.keyOf(credential);
    const entry = store.get(key);
    const deleted = this.purgeKey(store, key);
    const purged =
      entry !== undefined && entry !== NOT_A_SESSION
        ? store.purgeIdentity(identityScope(key, (entry as SessionSummary).identityId))
        : undefined;
    await Promise.all([deleted, purged]);
  }

  private purgeKey(store: SessionStore, key: string): Promise<void> {
    // A whoami for this credential in flight is not in the store: forgetting it means its
    // answer is never kept, and a later caller starts a new whoami instead of joining it.
    this.flights.forget(key);
    // A step-up through the mount ends in a credentialed, mutating request: the next request is asked anew.
    this.stepUps!.delete(key);
    return store.delete(key);
  }

  /**
   * Removes every cached session of an identity (after an admin-side revocation), here at once
   * and, with a shared tier, fleet-wide: see purgeIdentityOf. The store records the purge, so an
   * answer in flight for that identity is not kept. Resolves with how many entries were removed.
   * The identity id is this resolver's Kratos's: the same id at another Kratos is untouched.
   */
  purgeIdentity(identityId: string): Promise<number> {
    return this.store === undefined ? Promise.resolve(0) : this.store.purgeIdentity(scopedIdentityId(this.opts.kratos, identityId));
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    if (this.opts.sharesStore !== true) await this.store?.close();
    await this.whoami.close();
  }
}
