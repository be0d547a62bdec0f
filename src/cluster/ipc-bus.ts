import { LocalInvalidationBus, type MemorySessionStore } from '../gateway/session/memory-session-store.js';
import type { SessionInvalidation } from '../gateway/session/session-store.js';

/**
 * The in-memory session cache's fan-out across the processes of one gateway (proxy.workers > 1,
 * no Redis): what this process's store deletes or purges goes out through `send` (to the
 * primary, which relays it to every other process), and what arrives from there is handed to
 * `deliver`. A worker's purge therefore reaches every worker without any shared store.
 */
export class IpcInvalidationBus extends LocalInvalidationBus {
  private readonly stores = new Set<MemorySessionStore>();

  constructor(private readonly send: (invalidation: SessionInvalidation) => void) {
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

  override publish(from: MemorySessionStore, invalidation: SessionInvalidation): void {
    super.publish(from, invalidation);
    this.send(invalidation);
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
