import { LRUCache } from 'lru-cache';
import type { GatewayMetrics } from '../../observability/metrics.js';
import type { Credential } from '../pipeline/credentials/index.js';
import type { SessionSummary } from './session-summary.js';
import type { SessionStore, SlowTierLoad } from './store/session-store.js';
import type { Answer } from './whoami-answer.js';

/**
 * Asks Kratos again for `key`, in a flight a miss for the key would join, and keeps the answer
 * through `load` (the store's, when it gave one); releases `load` when done.
 */
export type Recheck = (store: SessionStore, key: string, credential: Credential, load: SlowTierLoad | undefined) => Promise<Answer>;

/**
 * Stale-while-revalidate (session_cache.revalidate_after_ms): a request is answered from its
 * entry at once; an entry older than `afterMs` gets one background whoami (one per fleet when
 * the store can claim it), so a revocation made at Kratos directly is seen within `afterMs`
 * plus one whoami.
 */
export class Revalidation {
  /**
   * Cache keys re-checked lately (or being re-checked): at most one background whoami per key
   * per `afterMs` from this instance, whatever the request rate.
   */
  private readonly recent: LRUCache<string, true>;

  constructor(
    private readonly afterMs: number,
    private readonly metrics: GatewayMetrics,
    /** Whether a whoami for the key is in flight here already (a miss's or a re-check's). */
    private readonly asking: (key: string) => boolean,
    private readonly recheck: Recheck,
  ) {
    this.recent = new LRUCache<string, true>({ max: 100_000, ttl: afterMs });
  }

  /** On every hit: starts a re-check when the entry is old and none is under way. */
  ifOld(store: SessionStore, key: string, credential: Credential, session: SessionSummary): void {
    const checkedAt = session.checkedAtMs;
    if (checkedAt === undefined || Date.now() - checkedAt < this.afterMs) return;
    if (this.recent.has(key) || this.asking(key)) return;
    this.recent.set(key, true);
    void this.revalidate(store, key, credential, checkedAt);
  }

  private async revalidate(store: SessionStore, key: string, credential: Credential, checkedAt: number): Promise<void> {
    const metrics = this.metrics;
    try {
      const claim = store.claimRevalidation === undefined ? undefined : await store.claimRevalidation(key, checkedAt, this.afterMs);
      if (claim?.outcome === 'refreshed') return void this.recent.delete(key);
      // Stays in `recent`: asked again after afterMs, should that instance fail.
      if (claim?.outcome === 'elsewhere') return metrics.revalidation('elsewhere');
      const answer = await this.recheck(store, key, credential, claim?.load);
      metrics.revalidation(!answer.negative ? 'active' : 'stepUp' in answer ? 'step_up' : 'revoked');
      this.recent.delete(key);
    } catch {
      // Kratos gave no answer (already counted and logged by the whoami): the entry is kept,
      // bounded by ttl_cap_ms as always, and asked again after afterMs.
      metrics.revalidation('error');
    }
  }
}
