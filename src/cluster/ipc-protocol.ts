/**
 * The IPC protocol between a cluster primary and its workers (proxy.workers > 1). Every
 * message's type starts with `kg:`; anything else on the channel is not ours and is ignored.
 * The channel is the process pipe Node's cluster sets up: what travels here (the configuration,
 * an ephemeral signing key) never appears in the environment, the command line or a log line.
 */
import type { JsonWebKey } from 'node:crypto';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { GatewayConfig } from '../config/schema.js';
import type { SessionInvalidation } from '../gateway/session/store/session-store.js';

/** Set in a worker's environment by its primary: tells our worker apart from a process another cluster manager (pm2) forked. */
export const WORKER_ENV = 'KG_CLUSTER_WORKER';

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type ToWorker =
  | {
      type: 'kg:init';
      /** The configuration the primary started with (as loaded, environment overrides applied). */
      config: GatewayConfig;
      baseDir: string;
      configFile: string;
      /** The Kratos public URL the primary resolved (the embedded identity server's real URL). */
      kratosPublicUrl: string;
      /** The primary's identity-assertion keys (assertionKeysForWorkers), generated or from key_file. */
      assertionKeys?: JsonWebKey[];
      /**
       * The configuration (as loaded) of the last reload the primary applied since it started:
       * the worker applies it before it serves anything (a replacement must serve what the
       * others serve, not the configuration of the start nor whatever the file holds now).
       */
      reloaded?: GatewayConfig;
    }
  /** A purge from elsewhere; with `seq`, answered (kg:reply) with how many sessions this worker dropped. */
  | { type: 'kg:invalidate'; invalidation: SessionInvalidation; seq?: number }
  /** The answer to a question this worker asked (its kg:invalidate: how many sessions the others dropped). */
  | { type: 'kg:reply'; seq: number; value: unknown }
  | { type: 'kg:metrics'; seq: number }
  /** The primary applied a reload: the worker applies the same configuration (it does not read the file). */
  | { type: 'kg:reload'; trigger: string; config: GatewayConfig }
  /** SIGHUP reached the primary: the worker reads its proxy listener's certificate files again (it watches them too). */
  | { type: 'kg:certificates'; trigger: string }
  | { type: 'kg:shutdown' };

export type FromWorker =
  /** Sent once the worker listens for messages: only then is kg:init sure to be received. */
  | { type: 'kg:hello' }
  | { type: 'kg:listening'; proxyUrl: string }
  /** startGateway failed: what the single process would have printed, and its exit code. */
  | { type: 'kg:failed'; lines: string[]; code: number }
  /** A purge here, for every other process; answered (kg:reply to `seq`) once they all applied it. */
  | { type: 'kg:invalidate'; invalidation: SessionInvalidation; seq: number }
  | { type: 'kg:reply'; seq: number; value: unknown };

export function isOurs<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('kg:')
  );
}

/**
 * A worker's message as the protocol defines it. The primary checks before it acts: a field
 * of the wrong type (a bug, a mismatched build) would otherwise throw in its message handler
 * and end the primary, and with it every worker.
 */
export function isWellFormed(message: FromWorker): boolean {
  switch (message.type) {
    case 'kg:hello':
      return true;
    case 'kg:listening':
      return typeof message.proxyUrl === 'string';
    case 'kg:failed':
      return Array.isArray(message.lines) && message.lines.every((l) => typeof l === 'string') && Number.isInteger(message.code);
    case 'kg:invalidate':
      return Number.isInteger(message.seq) && isInvalidation(message.invalidation);
    case 'kg:reply':
      return Number.isInteger(message.seq);
    default:
      return false;
  }
}

function isInvalidation(value: unknown): value is SessionInvalidation {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return 'key' in v ? typeof v.key === 'string' : typeof v.identityId === 'string';
}

/**
 * Questions sent over the channel that await a kg:reply carrying their `seq`. Each resolves with
 * the answer, or with undefined when it could not be sent, when no answer came within
 * `timeoutMs` (the other side gone or stuck must not hold it forever), or when answered
 * undefined by whoever knows no answer will come (the worker exited).
 */
export class Questions {
  private seq = 0;
  private readonly pending = new Map<number, (value: unknown) => void>();

  constructor(private readonly timeoutMs: number) {}

  /** `send` posts the question with this seq; false when it could not. `open` holds the seq while it is unanswered. */
  ask(send: (seq: number) => boolean, open?: Set<number>): Promise<unknown> {
    return new Promise((resolve) => {
      const id = ++this.seq;
      const timer = setTimeout(() => this.answer(id, undefined), this.timeoutMs);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        this.pending.delete(id);
        open?.delete(id);
        resolve(value);
      });
      open?.add(id);
      if (!send(id)) this.answer(id, undefined);
    });
  }

  answer(seq: number, value: unknown): void {
    this.pending.get(seq)?.(value);
  }
}
