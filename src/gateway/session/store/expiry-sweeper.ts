/** What the sweep uses of an lru-cache LRUCache (any value type). */
export interface SweptCache {
  allowStale: boolean;
  rkeys(): Iterable<string>;
  getRemainingTTL(key: string): number;
  delete(key: string): boolean;
}

/**
 * Removes expired entries from lru-caches in the background, off the request path.
 *
 * lru-cache drops an expired entry only when that key is asked for again or the entry is
 * evicted, so without this a cache's memory follows `max_entries`, not the sessions in use.
 * Its own remedies do not fit a cache of a million entries: `ttlAutopurge` keeps a timer per
 * entry, and `purgeStale()` walks every entry in one go.
 *
 * Every `intervalMs`, one batch per cache: the `batch` least recently used entries are looked
 * at (oldest first) and the expired ones removed. While a batch removed anything, another
 * follows on the next turn of the event loop, so a backlog drains without any one batch
 * holding requests up for more than `batch` entries' worth of work.
 *
 * Oldest first reaches everything that matters: every entry lives at most ttl_cap_ms, so one
 * not used for that long is expired, and those are exactly the least recently used ones. An
 * entry with a shorter lifetime of its own (a session expiring sooner) that is still used
 * goes when it is next asked for, or once it has drifted to the old end.
 */
export class ExpirySweeper {
  private readonly timer: NodeJS.Timeout | undefined;
  private next: NodeJS.Immediate | undefined;

  constructor(
    private readonly caches: readonly SweptCache[],
    private readonly batch: number,
    intervalMs: number,
  ) {
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.tick(), intervalMs);
      this.timer.unref();
    }
  }

  /** Drains every cache now (synchronously, batch after batch); returns how many were removed. */
  sweepAll(): number {
    let total = 0;
    for (const cache of this.caches) {
      for (let n = this.sweepBatch(cache); n > 0; n = this.sweepBatch(cache)) total += n;
    }
    return total;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.next !== undefined) clearImmediate(this.next);
    this.next = undefined;
  }

  private tick(): void {
    if (this.next !== undefined) return; // still draining
    let removed = 0;
    for (const cache of this.caches) removed += this.sweepBatch(cache);
    if (removed > 0) {
      this.next = setImmediate(() => {
        this.next = undefined;
        this.tick();
      });
      this.next.unref();
    }
  }

  /** One batch of one cache: the `batch` oldest entries looked at, the expired ones removed. */
  private sweepBatch(cache: SweptCache): number {
    const expired: string[] = [];
    // rkeys() walks oldest first but skips expired entries unless the cache allows stale ones:
    // allowed for this synchronous walk only (nothing else runs meanwhile), then restored.
    const allowStale = cache.allowStale;
    cache.allowStale = true;
    try {
      let seen = 0;
      for (const key of cache.rkeys()) {
        if (seen++ === this.batch) break;
        if (cache.getRemainingTTL(key) < 0) expired.push(key);
      }
    } finally {
      cache.allowStale = allowStale;
    }
    // Removed after the walk: deleting under a live iterator is lru-cache's business, not ours.
    for (const key of expired) cache.delete(key);
    return expired.length;
  }
}
