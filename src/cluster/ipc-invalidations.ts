import type { InvalidationChannel, InvalidationReceiver } from '../gateway/session/store/invalidation-channel.js';
import { LocalInvalidationBus } from '../gateway/session/store/local-invalidations.js';
import type { SessionInvalidation } from '../gateway/session/store/session-store.js';

/**
 * The in-memory session cache's fan-out across the processes of one gateway (proxy.workers > 1,
 * no Redis): what a store of this process deletes or purges reaches the other stores here at
 * once and goes out through `send` (to the primary, which relays it to every other process);
 * what arrives from there is handed to `deliver`. A worker's purge therefore reaches every
 * worker without any shared store.
 *
 * `send` resolves once every other process has applied it (or did not answer within a bounded
 * wait), with the number of sessions they dropped. publish() returns that promise, so a store
 * that waits for it makes "purged" mean "purged in every worker"; until then the order of the
 * IPC channels already delivers a purge before any connection accepted after it.
 */
export class IpcInvalidationBus implements InvalidationChannel {
  private readonly here = new LocalInvalidationBus();
  /** The latest fan-out of each invalidation, for callers that need its outcome (the admin purge's count). */
  private readonly confirmations = new Map<string, Promise<number>>();

  constructor(private readonly send: (invalidation: SessionInvalidation) => Promise<number>) {}

  subscribe(receiver: InvalidationReceiver): () => void {
    return this.here.subscribe(receiver);
  }

  publish(invalidation: SessionInvalidation, from?: InvalidationReceiver): Promise<number> {
    this.here.deliver(invalidation, from);
    const key = keyOf(invalidation);
    const confirmed = this.send(invalidation).finally(() => {
      if (this.confirmations.get(key) === confirmed) this.confirmations.delete(key);
    });
    this.confirmations.set(key, confirmed);
    return confirmed;
  }

  /** The fan-out of this invalidation still under way, if any: how many sessions the other processes dropped. */
  confirmation(invalidation: SessionInvalidation): Promise<number> | undefined {
    return this.confirmations.get(keyOf(invalidation));
  }

  /** An invalidation from another process: applied to every store here. Returns the sessions dropped. */
  deliver(invalidation: SessionInvalidation): number {
    return this.here.deliver(invalidation);
  }
}

function keyOf(invalidation: SessionInvalidation): string {
  return 'key' in invalidation ? 'k:' + invalidation.key : 'i:' + invalidation.identityId;
}
