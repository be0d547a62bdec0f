/**
 * Runs the embedded identity server on a worker thread (thread-entry.ts), so that its CPU work
 * (argon2, bcrypt, the password policy, schema validation) for unauthenticated callers
 * cannot stall the gateway's event loop: one large sign-up froze all proxy traffic for
 * seconds while it shared the loop.
 *
 * This module is loaded on the gateway's thread and deliberately imports neither server.ts
 * nor SQLite: everything identity-related happens on the worker.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LevelWithSilent } from 'pino';
import { pino } from 'pino';
import type { Logger } from '../../log.js';
import { KratosConfigError } from '../driver/config/config-error.js';
import type { IdentityServerOptions } from './server.js';

/** The structured-clonable part of IdentityServerOptions (no logger, no clock). */
export type IdentityWorkerOptions = Omit<IdentityServerOptions, 'logger' | 'clock'>;

export interface IdentityWorkerData {
  options: IdentityWorkerOptions;
  log: { level: LevelWithSilent; bindings: Record<string, unknown> };
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  port?: number;
  keyPath?: string;
  reason?: string;
}

export type WorkerMessage =
  | { type: 'log'; line: string }
  | { type: 'listening'; publicUrl: string; adminUrl: string }
  | { type: 'error'; error: SerializedError }
  | { type: 'closed' };

export type HostMessage = { type: 'close' };

export interface IdentityWorkerHandle {
  publicUrl: string;
  adminUrl: string;
  /** The thread the identity server runs on; exposed for tests and diagnostics. */
  worker: Worker;
  /** Asks the worker to close its servers and database; terminates it after `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
  /** Calls `listener` once if the thread ends while running (a crash, not close()): supervisor.ts restarts it. */
  onUnexpectedExit(listener: (exitCode: number) => void): void;
}

/**
 * The worker's entry: thread-entry.js next to this module when compiled (dist/). Under tsx
 * (tests, `node --import tsx`) only thread-entry.ts exists, and a worker does not get tsx's loader even
 * with `--import tsx` in its execArgv (Node 20: "Unknown file extension .ts"), so a small
 * bootstrap registers tsx on the worker first and then imports thread-entry.ts.
 */
export function workerEntry(base: string = import.meta.url): URL {
  const js = new URL('./thread-entry.js', base);
  if (existsSync(fileURLToPath(js))) return js;
  const ts = new URL('./thread-entry.ts', base);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(ts.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

/** Rebuilds the worker's error so app.ts and main.ts can map it as they did in-process. */
function reviveError(s: SerializedError): Error {
  const err =
    s.name === 'KratosConfigError' && s.keyPath !== undefined && s.reason !== undefined
      ? new KratosConfigError(s.keyPath, s.reason)
      : Object.assign(new Error(s.message), { name: s.name });
  if (s.stack) err.stack = s.stack;
  if (s.code !== undefined) Object.assign(err, { code: s.code });
  if (s.port !== undefined) Object.assign(err, { port: s.port });
  return err;
}

/** The destination the logger writes to, so worker lines join the same stream unchanged. */
function rawWriter(logger: Logger): (line: string) => void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { write?: (s: string) => unknown } | undefined;
  if (stream && typeof stream.write === 'function') return (line) => void stream.write?.(line);
  return (line) => void process.stdout.write(line);
}

/**
 * Starts the identity server on a worker thread. `logger` is the logger the server would
 * have been given in-process (its level and bindings are reproduced on the worker). Rejects
 * with the worker's startup error (EADDRINUSE with its port, KratosConfigError, ...).
 */
export function startIdentityServerInWorker(options: IdentityWorkerOptions, logger: Logger): Promise<IdentityWorkerHandle> {
  const data: IdentityWorkerData = { options, log: { level: logger.level as LevelWithSilent, bindings: logger.bindings() } };
  const write = rawWriter(logger);
  const worker = new Worker(workerEntry(), { workerData: data, name: 'identity-server' });

  return new Promise((resolve, reject) => {
    let state: 'starting' | 'running' | 'closing' | 'exited' = 'starting';
    let closed: Promise<void> | undefined;
    let onClosed: (() => void) | undefined;
    let crashCode: number | undefined;
    const crashListeners: Array<(exitCode: number) => void> = [];
    const onUnexpectedExit = (listener: (exitCode: number) => void) => {
      if (crashCode !== undefined) listener(crashCode);
      else crashListeners.push(listener);
    };

    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'log') write(m.line);
      else if (m.type === 'listening') {
        state = 'running';
        resolve({ publicUrl: m.publicUrl, adminUrl: m.adminUrl, worker, close, onUnexpectedExit });
      } else if (m.type === 'error') {
        state = 'closing';
        reject(reviveError(m.error));
        void worker.terminate();
      } else if (m.type === 'closed') onClosed?.();
    });
    worker.on('error', (err) => {
      if (state === 'starting') {
        state = 'closing';
        reject(err);
        return;
      }
      logger.error({ err: { message: err.message, stack: err.stack } }, 'identity server thread crashed');
    });
    worker.on('exit', (code) => {
      const was = state;
      state = 'exited';
      onClosed?.();
      if (was === 'starting') reject(new Error(`identity server thread exited with code ${code} before listening`));
      // Fail closed: its listeners are gone, so session checks against it fail and routes that
      // need a session answer 503 until it is restarted (supervisor.ts logs and restarts it).
      else if (was === 'running') {
        crashCode = code;
        for (const listener of crashListeners.splice(0)) listener(code);
      }
    });

    function close(timeoutMs = 5_000): Promise<void> {
      closed ??= (async () => {
        if (state === 'exited') return;
        state = 'closing';
        const done = new Promise<void>((r) => (onClosed = r));
        worker.postMessage({ type: 'close' } satisfies HostMessage);
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
        const outcome = await Promise.race([done.then(() => 'closed' as const), timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') logger.warn({ timeout_ms: timeoutMs }, 'identity server thread did not close in time; terminating it');
        // After {type:'closed'} the servers and database are closed; what may remain (idle
        // timers, the message port) needs no orderly shutdown.
        await worker.terminate();
      })();
      return closed;
    }
  });
}
