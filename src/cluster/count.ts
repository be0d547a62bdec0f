import { availableParallelism } from 'node:os';

/** `proxy.workers` as a number of processes: `auto` is one per CPU this process may use. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, Math.min(256, availableParallelism())) : setting;
}
