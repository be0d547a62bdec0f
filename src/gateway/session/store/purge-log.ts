import type { PurgeRecord, SessionInvalidation } from './session-store.js';

/** Keys, and identities, remembered each: what bounds the record's memory. */
const REMEMBERED = 10_000;

/**
 * The purges this process knows of (its own and those heard from elsewhere), numbered in the
 * order they happened: the in-process guard of the purge race. A whoami answer (or a value read
 * from a shared tier) that was asked before a purge of its key or identity may be from before
 * the change the purge is for; it is kept only if no such purge came since it was asked
 * (MemorySessionStore.keep). Positions, not clock readings: two purges in one millisecond are
 * still ordered.
 *
 * Keys and identities are remembered apart, each bounded alone: anyone can make the Kratos
 * mount purge keys, and a flood of those must not push an identity purge out of the record.
 * When an entry is pushed out, the record no longer reaches back past it, and says "purged" for
 * every mark before that (an answer is then not kept: safe, at the cost of one more whoami).
 */
export class PurgeLog implements PurgeRecord {
  private next = 0;
  private readonly keys = new Recent();
  private readonly identities = new Recent();

  mark(): number {
    return this.next;
  }

  record(invalidation: SessionInvalidation): void {
    if ('key' in invalidation) this.keys.set(invalidation.key, this.next++);
    else this.identities.set(invalidation.identityId, this.next++);
  }

  keyPurgedSince(mark: number, key: string): boolean {
    return this.keys.since(key, mark);
  }

  identityPurgedSince(mark: number, identityId: string): boolean {
    return this.identities.since(identityId, mark);
  }

  identityPurgeRecordedSince(mark: number, identityId: string): boolean {
    return this.identities.recordedSince(identityId, mark);
  }
}

/** id → position of its last purge, oldest first; what was pushed out is remembered as one position. */
class Recent {
  private readonly last = new Map<string, number>();
  /** The latest position pushed out of `last` (-1: none). */
  private forgotten = -1;

  set(id: string, position: number): void {
    // Deleted first: set alone would leave the id at its old place in the order.
    this.last.delete(id);
    this.last.set(id, position);
    if (this.last.size <= REMEMBERED) return;
    const [oldest, at] = this.last.entries().next().value!;
    this.last.delete(oldest);
    this.forgotten = at;
  }

  since(id: string, mark: number): boolean {
    return this.forgotten >= mark || this.recordedSince(id, mark);
  }

  /** Only what is still remembered: an id pushed out reads as not purged. */
  recordedSince(id: string, mark: number): boolean {
    return (this.last.get(id) ?? -1) >= mark;
  }
}
