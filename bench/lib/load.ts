/** Runs one load generator process (bench/load/worker.ts) and returns what it measured. */
import { fork } from 'node:child_process';
import { BENCH_DIR } from './proc.js';
import type { LoadResult, LoadSpec } from '../load/worker.js';

export type { LoadResult, LoadSpec, TokenPlan } from '../load/worker.js';

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const child = fork(BENCH_DIR + 'load/worker.ts', [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  child.send(spec);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const seconds = (spec.warmup ?? 0) + (('duration' in spec ? spec.duration : undefined) ?? 5);
  const limitMs = ('amount' in spec && spec.amount !== undefined ? 180 : seconds * 3 + 30) * 1000;
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load generator overran ${limitMs} ms: ${stderr}`));
    }, limitMs);
    child.on('message', (m: { result?: LoadResult; error?: string }) => {
      done = true;
      clearTimeout(timer);
      if (m.result) resolve(m.result);
      else reject(new Error(m.error ?? 'load generator failed'));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`load generator exited ${code}: ${stderr}`));
    });
  });
}
