import type { SessionInvalidation } from './session-store.js';

/**
 * A member's handler for an invalidation from another member: drops what it names and says how
 * many sessions that was.
 */
export type InvalidationReceiver = (invalidation: SessionInvalidation) => number;

/**
 * How a session cache's deletes and purges reach the other caches that may hold the same
 * entries, whatever carries them: the stores of one process (local-invalidations.ts), the
 * processes of one gateway (cluster/ipc-invalidations.ts), or the instances of a fleet through
 * Redis pub/sub (redis/invalidations.ts).
 */
export interface InvalidationChannel {
  /**
   * Tells every other member. `from`: the publisher's own receiver (as subscribed), which does
   * not hear it back. Members in this process have it before this returns. The promise settles
   * once the members further away have it, or the channel gave up within its bound (then it
   * keeps it for later where it can); it never rejects. It resolves with how many entries the
   * far side dropped when the channel learns that, else undefined.
   */
  publish(invalidation: SessionInvalidation, from?: InvalidationReceiver): Promise<number | undefined>;
  /** Hears the other members' invalidations (never its own). Returns the unsubscribe function. */
  subscribe(receiver: InvalidationReceiver): () => void;
}
