import type { LoadResult } from './worker.js';

/**
 * A run's result from the latencies of its successful calls and the count of every outcome:
 * calls/s counts the successful ones. `loadCpu` is filled in by the caller.
 */
export function loadResultOf(latencies: number[], status: Record<string, number>, errors: number, secs: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! : 0);
  const ok = latencies.length;
  const total = Object.values(status).reduce((a, b) => a + b, 0);
  return {
    rps: ok / secs,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: q(1),
    total,
    ok,
    non2xx: total - ok,
    errors,
    timeouts: 0,
    status,
    seconds: secs,
    loadCpu: 0,
  };
}
