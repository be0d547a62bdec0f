/**
 * Invalidations through Redis: a purge script drops the shared tier's values, marks the key or
 * identity purged (the markers KEEP checks: the fleet's purge-race guard) and publishes the
 * invalidation on P invalidate, which every other instance hears on its subscriber connection.
 * While Redis is unreachable, invalidations wait in two outboxes and go out once it is back.
 */
import type { Logger } from '../../../../log.js';
import type { InvalidationChannel, InvalidationReceiver } from '../invalidation-channel.js';
import type { SessionInvalidation } from '../session-store.js';
import type { RedisConnection } from './connection.js';

export interface RedisInvalidationsOptions {
  keyPrefix: string;
  /** This instance: its own messages, heard back, are skipped. */
  origin: string;
  /** How long a purge marker lives: longer than any miss it must refuse (see PURGE_MARGIN_MS). */
  markerTtlMs: number;
  /** Invalidations kept while Redis is unreachable, replayed when it is back (oldest dropped past this, keys and identities each). */
  outboxMax?: number | undefined;
  logger?: Logger | undefined;
  /** An invalidation was published to the fleet, or received from another instance. */
  counted?: ((direction: 'published' | 'received') => void) | undefined;
}

export class RedisInvalidations implements InvalidationChannel {
  readonly channel: string;
  private readonly receivers = new Set<InvalidationReceiver>();
  /** Key invalidations Redis has not accepted yet, replayed once it is back (insertion-ordered, deduplicated). */
  private readonly outbox = new Map<string, SessionInvalidation>();
  /**
   * Identity purges wait apart from key purges, each bounded alone: the mount purges the key of
   * any credential a mutating request presents, so anyone can queue key purges at will, and they
   * must not push a revocation out. (Identity purges need a session of that identity.)
   */
  private readonly identityOutbox = new Map<string, SessionInvalidation>();
  /** The outbox overflowed since Redis was last up: said once, not once per dropped purge. */
  private overflowLogged = false;

  constructor(
    private readonly conn: RedisConnection,
    private readonly o: RedisInvalidationsOptions,
  ) {
    this.channel = o.keyPrefix + 'invalidate';
  }

  subscribe(receiver: InvalidationReceiver): () => void {
    this.receivers.add(receiver);
    return () => void this.receivers.delete(receiver);
  }

  /**
   * Drops the shared tier's values, marks the purge and tells the fleet; resolves with how many
   * values it dropped, or undefined when Redis did not accept it within timeoutMs. One that
   * fails is queued for when Redis is back. Never rejects.
   */
  publish(invalidation: SessionInvalidation): Promise<number | undefined> {
    if (!this.conn.up || this.conn.closed) {
      this.enqueue(invalidation);
      return Promise.resolve(undefined);
    }
    const sent = this.send(invalidation);
    // A command past its timeout may still fail later (connection lost): then it is queued.
    sent.catch((err: unknown) => this.failed(invalidation, err));
    return this.conn.bounded(sent).catch(() => undefined);
  }

  /** Invalidations waiting for Redis. */
  get queued(): number {
    return this.outbox.size + this.identityOutbox.size;
  }

  /** Redis is up again: what waited goes out, identity purges first. */
  flush(): void {
    const pending = [...this.identityOutbox.values(), ...this.outbox.values()];
    this.identityOutbox.clear();
    this.outbox.clear();
    this.overflowLogged = false;
    for (const inv of pending) this.send(inv).catch((err: unknown) => this.failed(inv, err));
  }

  /** A message on P invalidate: another instance's, handed to the receivers; this instance's own, skipped. */
  onMessage(message: string): void {
    const inv = parseInvalidation(message);
    if (inv === undefined || inv.origin === this.o.origin) return;
    const invalidation: SessionInvalidation = 'key' in inv ? { key: inv.key } : { identityId: inv.identityId };
    this.o.counted?.('received');
    for (const r of [...this.receivers]) r(invalidation);
  }

  close(): void {
    this.receivers.clear();
  }

  private async send(inv: SessionInvalidation): Promise<number> {
    const message = JSON.stringify({ origin: this.o.origin, ...inv });
    const k = (kind: string, rest: string) => this.o.keyPrefix + kind + rest;
    const cmd = this.conn.cmd;
    const px = this.o.markerTtlMs;
    const n =
      'key' in inv
        ? await cmd.kgPurgeKey(k('s:', inv.key), k('p:k:', inv.key), px, this.channel, message)
        : await cmd.kgPurgeIdentity(k('i:', inv.identityId), k('p:i:', inv.identityId), px, this.channel, message, k('s:', ''));
    this.o.counted?.('published');
    return n;
  }

  private failed(inv: SessionInvalidation, err: unknown): void {
    this.enqueue(inv);
    this.conn.refusedBy(err);
  }

  private enqueue(inv: SessionInvalidation): void {
    if (this.conn.closed) return;
    const [box, id] = 'key' in inv ? [this.outbox, inv.key] : [this.identityOutbox, inv.identityId];
    box.delete(id);
    box.set(id, inv);
    const max = this.o.outboxMax ?? 10_000;
    if (box.size > max) {
      box.delete(box.keys().next().value!);
      if (!this.overflowLogged)
        this.o.logger?.warn({ max }, 'shared session cache: invalidation outbox full, oldest dropped (said once until Redis is back)');
      this.overflowLogged = true;
    }
  }
}

/** A fleet message, checked field by field: a forged one can at worst purge entries. */
function parseInvalidation(message: string): ({ origin: string } & ({ key: string } | { identityId: string })) | undefined {
  if (message.length > 4_096) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (typeof m.origin !== 'string') return undefined;
  const ok = (x: unknown): x is string => typeof x === 'string' && x !== '' && x.length <= 1_024;
  if (ok(m.key) && m.identityId === undefined) return { origin: m.origin, key: m.key };
  if (ok(m.identityId) && m.key === undefined) return { origin: m.origin, identityId: m.identityId };
  return undefined;
}
