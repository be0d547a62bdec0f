/**
 * Keeps the embedded identity server's thread (thread.ts) running. A thread that dies (an
 * uncaught error, out of memory, terminated) is restarted after a wait that starts at
 * `initialDelayMs` and doubles with each failure in a row up to `maxDelayMs`; a thread that
 * stays up `stableAfterMs` starts the count again. The restart opens the same database (a file
 * DSN keeps every identity and session; `memory` starts empty) and listens on the same ports:
 * the gateway, and every cluster worker, was given those URLs. After `giveUpAfter` failures in
 * a row (the crash, then each restart that failed) it gives up, as the cluster primary does with
 * workers that keep exiting: the gateway's liveness fails and the process ends (app.ts, main.ts).
 *
 * One log line per event: the crash (error), a restart that failed (error), the restart (warn),
 * giving up (fatal).
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import { sqlitePathFromDsn } from '../persistence/dsn.js';
import { startIdentityServerInWorker, type IdentityWorkerHandle, type IdentityWorkerOptions } from './thread.js';

export interface RestartPolicy {
  /** The wait before the first restart after a crash; doubled after each failure in a row. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A thread up this long resets the count of failures, and with it the wait. */
  stableAfterMs: number;
  /** Failures in a row (the crash, then each restart that failed) after which it gives up. */
  giveUpAfter: number;
}

/** Tries for about 50 s (0.1 + 0.2 + … + 25.6 s of waiting) before it gives up. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 30_000, stableAfterMs: 60_000, giveUpAfter: 10 };

/** The wait before the restart that follows the `failures`th failure in a row (1 for a crash after a stable run). */
export function restartDelay(failures: number, policy: RestartPolicy): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
}

export type IdentityThreadState =
  | { state: 'running' }
  /** Down, a restart is scheduled or under way. */
  | { state: 'restarting'; exitCode: number; failures: number }
  /** Given up: nothing restarts it in this process any more. */
  | { state: 'down'; exitCode: number; failures: number };

export interface SupervisedIdentityServer {
  publicUrl: string;
  adminUrl: string;
  /** The thread running now; undefined while it is down. For tests and diagnostics. */
  readonly worker: Worker | undefined;
  readonly state: IdentityThreadState;
  /** Told of every change of state (and at once of the current one when it is not 'running'). */
  onStateChange(listener: (state: IdentityThreadState) => void): void;
  /** Stops restarting and closes the running thread, if any. */
  close(): Promise<void>;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Starts the identity server on a worker thread and restarts it when it dies. Rejects as thread.ts does when the first start fails. */
export async function superviseIdentityServer(
  options: IdentityWorkerOptions,
  logger: Logger,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): Promise<SupervisedIdentityServer> {
  const first = await startIdentityServerInWorker(options, logger);
  // Where the first thread listens (a configured port 0 was resolved then).
  const again: IdentityWorkerOptions = {
    ...options,
    publicListen: { host: options.publicListen.host, port: portOf(first.publicUrl) },
    adminListen: { host: options.adminListen.host, port: portOf(first.adminUrl) },
  };
  const memory = sqlitePathFromDsn(options.dsn) === ':memory:' ? { in_memory_database: true } : {};
  const listeners: Array<(state: IdentityThreadState) => void> = [];
  let state: IdentityThreadState = { state: 'running' };
  let current: IdentityWorkerHandle | undefined = first;
  let upSince = performance.now();
  let failures = 0;
  let lastExit = 0;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;
  let closing = false;

  const enter = (next: IdentityThreadState) => {
    state = next;
    for (const listener of listeners) listener(next);
  };

  /** Counts a failure; schedules the next restart, or gives up. */
  const failed = (fields: Record<string, unknown>, msg: string) => {
    failures++;
    if (failures >= policy.giveUpAfter) {
      logger.fatal(
        { ...fields, exit_code: lastExit, failures },
        `identity server thread keeps failing (${failures} times in a row): giving up`,
      );
      return enter({ state: 'down', exitCode: lastExit, failures });
    }
    const delay = restartDelay(failures, policy);
    logger.error({ ...fields, exit_code: lastExit, failures, restart_in_ms: delay, ...memory }, msg);
    enter({ state: 'restarting', exitCode: lastExit, failures });
    timer = setTimeout(() => {
      timer = undefined;
      attempt = restart().finally(() => (attempt = undefined));
    }, delay);
  };

  const watch = (h: IdentityWorkerHandle) =>
    h.onUnexpectedExit((code) => {
      if (closing || current !== h) return;
      current = undefined;
      lastExit = code;
      if (performance.now() - upSince >= policy.stableAfterMs) failures = 0;
      failed({}, 'identity server thread exited unexpectedly; restarting it');
    });

  const restart = async () => {
    let h: IdentityWorkerHandle;
    try {
      h = await startIdentityServerInWorker(again, logger);
    } catch (err) {
      if (!closing) failed({ err: { message: (err as Error).message } }, 'identity server thread failed to restart; retrying');
      return;
    }
    if (closing) return void (await h.close());
    current = h;
    upSince = performance.now();
    watch(h);
    logger.warn({ failures, public_url: h.publicUrl, admin_url: h.adminUrl, ...memory }, 'identity server thread restarted');
    enter({ state: 'running' });
  };

  watch(first);
  return {
    publicUrl: first.publicUrl,
    adminUrl: first.adminUrl,
    get worker() {
      return current?.worker;
    },
    get state() {
      return state;
    },
    onStateChange(listener) {
      listeners.push(listener);
      if (state.state !== 'running') listener(state);
    },
    async close() {
      closing = true;
      clearTimeout(timer);
      await attempt;
      await current?.close();
    },
  };
}
