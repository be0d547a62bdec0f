/**
 * Runs load through one long-lived generator process (bench/load/worker.ts): never the
 * harness's own event loop, never a system under test's. One run at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { BENCH_DIR } from './proc.js';
import type { LoadResult, LoadSpec } from '../load/worker.js';

export type { GrpcHolSpec, GrpcLoadSpec, HolResult, LoadResult, LoadSpec, TokenPlan } from '../load/worker.js';

let worker: Promise<ChildProcess> | undefined;
let stderr = '';
let nextId = 1;
let queue: Promise<unknown> = Promise.resolve();

function start(): Promise<ChildProcess> {
  worker ??= new Promise((resolve, reject) => {
    const child = fork(BENCH_DIR + 'load/worker.ts', [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.once('exit', (code) => {
      worker = undefined;
      reject(new Error(`load generator exited ${code}: ${stderr}`));
    });
    child.once('message', () => resolve(child));
  });
  return worker;
}

/** The pid of the load generator (for CPU accounting), once started. */
export async function loadPid(): Promise<number> {
  return (await start()).pid!;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const run = queue.then(() => runOne(spec));
  queue = run.catch(() => {});
  return run;
}

async function runOne(spec: LoadSpec): Promise<LoadResult> {
  const child = await start();
  const id = nextId++;
  const seconds = ('warmup' in spec ? (spec.warmup ?? 0) : 0) + (('duration' in spec ? spec.duration : undefined) ?? 5);
  const limitMs = (spec.kind === 'grpc-hol' || ('amount' in spec && spec.amount !== undefined) ? 300 : seconds * 3 + 30) * 1000;
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited ${code}: ${stderr}`));
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`load generator overran ${limitMs} ms: ${stderr}`));
    }, limitMs);
    const onMessage = (m: { id?: number; result?: LoadResult; error?: string }) => {
      if (m.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (m.result) resolve(m.result);
      else reject(new Error(m.error ?? 'load generator failed'));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ spec, id });
  });
}

/** Ends the generator process (the harness calls this once at the end). */
export async function stopLoad(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (w === undefined) return;
  const child = await w.catch(() => undefined);
  if (child && child.connected) child.disconnect();
}
