import type { InvalidationChannel, InvalidationReceiver } from './invalidation-channel.js';
import type { SessionInvalidation } from './session-store.js';

const NOTHING_FURTHER: Promise<undefined> = Promise.resolve(undefined);

/**
 * Fan-out of invalidations between the stores of one process (tests, several resolvers in one
 * process): what one member deletes or purges, every other member drops and tells its
 * listeners, before publish returns. The in-process stand-in for a shared store's pub/sub
 * channel, and the in-process part of the cluster's.
 */
export class LocalInvalidationBus implements InvalidationChannel {
  private readonly receivers = new Set<InvalidationReceiver>();

  /** A member is its receiver: `publish(…, receiver)` is how it is left out of its own. */
  subscribe(receiver: InvalidationReceiver): () => void {
    this.receivers.add(receiver);
    return () => void this.receivers.delete(receiver);
  }

  /** Every member here but `from` has it on return; there is nothing further to wait for. */
  publish(invalidation: SessionInvalidation, from?: InvalidationReceiver): Promise<undefined> {
    this.deliver(invalidation, from);
    return NOTHING_FURTHER;
  }

  /** Applies it to every member but `except`; returns the sessions they dropped. */
  deliver(invalidation: SessionInvalidation, except?: InvalidationReceiver): number {
    let dropped = 0;
    for (const r of [...this.receivers]) if (r !== except) dropped += r(invalidation);
    return dropped;
  }
}
