import { LocalInvalidationBus, type MemorySessionStore } from '../gateway/session/store/memory-store.js';
import type { SessionInvalidation } from '../gateway/session/store/session-store.js';

/**
 * The in-memory session cache's fan-out across the processes of one gateway (proxy.workers > 1,
 * no Redis): what this process's store deletes or purges goes out through `send` (to the
 * primary, which relays it to every other process), and what arrives from there is handed to
 * `deliver`. A worker's purge therefore reaches every worker without any shared store.
 *
 * `send` resolves once every other process has applied it (or did not answer within a bounded
 * wait), with the number of sessions they dropped. publish() returns that promise, so a store
 * that hands it back makes "purged" mean "purged in every worker"; until then the order of the
 * IPC channels already delivers a purge before any connection accepted after it.
 */
export class IpcInvalidationBus extends LocalInvalidationBus {
  private readonly stores = new Set<MemorySessionStore>();
  /** The latest fan-out of each invalidation, for callers that need its outcome (the admin purge's count). */
  private readonly confirmations = new Map<string, Promise<number>>();

  constructor(private readonly send: (invalidation: SessionInvalidation) => Promise<number>) {
    super();
  }

  override join(member: MemorySessionStore): () => void {
    const leave = super.join(member);
    this.stores.add(member);
    return () => {
      leave();
      this.stores.delete(member);
    };
  }

  override publish(from: MemorySessionStore, invalidation: SessionInvalidation): Promise<number> {
    super.publish(from, invalidation);
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
    let dropped = 0;
    for (const store of [...this.stores]) {
      const before = store.sizes.sessions;
      store.receive(invalidation);
      dropped += before - store.sizes.sessions;
    }
    return dropped;
  }
}

function keyOf(invalidation: SessionInvalidation): string {
  return 'key' in invalidation ? 'k:' + invalidation.key : 'i:' + invalidation.identityId;
}
