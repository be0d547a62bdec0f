/**
 * The admin listener's /metrics with workers: the primary's registry and every worker's,
 * merged by prom-client's AggregatorRegistry.aggregate. Counters and histograms add up (a
 * request counted by any worker is a request of the gateway); the gauges below say how.
 */
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerMetrics } from './ipc-protocol.js';

type Aggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';

/** Gauges that must not simply add up across processes. */
const AGGREGATORS: Record<string, Aggregator> = {
  // Constant 1 with the facts in labels: the same in every process.
  kratos_gateway_build_info: 'first',
  // 1 per hash: while a reload spreads, both hashes show (each 1), which is the truth.
  kratos_gateway_config_info: 'max',
  // Each worker has its own Redis connection: up only when every one is.
  kratos_gateway_shared_cache_up: 'min',
};

/** Series only the primary keeps truthfully: its admin listener checks Kratos, the workers never do. */
const PRIMARY_ONLY = new Set(['kratos_gateway_kratos_up']);

export function aggregateMetrics(primary: WorkerMetrics, workers: readonly WorkerMetrics[]): Registry {
  const fix = (metrics: WorkerMetrics, isPrimary: boolean): WorkerMetrics =>
    metrics
      .filter((m) => isPrimary || !PRIMARY_ONLY.has(m.name))
      .map((m) => (AGGREGATORS[m.name] === undefined ? m : { ...m, aggregator: AGGREGATORS[m.name]! }));
  return AggregatorRegistry.aggregate([fix(primary, true), ...workers.map((w) => fix(w, false))]);
}

/**
 * A worker that exits takes its counters with it, and the sums would go down: Prometheus reads
 * any decrease as a counter reset and rate() would jump. Its counters and histograms as last
 * scraped are kept (its gauges die with it), so what was exposed once never shrinks; only
 * what it counted after that scrape is lost.
 */
export function retire(retired: readonly WorkerMetrics[], last: WorkerMetrics): WorkerMetrics[] {
  return [...retired, cumulative(last)];
}

/** Its counters and histograms only: what may stand in for a process that cannot answer (exited, or too busy this once). */
export function cumulative(metrics: WorkerMetrics): WorkerMetrics {
  // prom-client declares `type` as a numeric enum it does not export; at run time it is the type's name.
  return metrics.filter((m) => ['counter', 'histogram'].includes(m.type as unknown as string));
}

/** The retired workers' series summed into one entry, so a long life with many exits costs no more. */
export async function mergeRetired(retired: readonly WorkerMetrics[]): Promise<WorkerMetrics[]> {
  if (retired.length < 2) return [...retired];
  return [(await AggregatorRegistry.aggregate([...retired]).getMetricsAsJSON()) as WorkerMetrics];
}

/** The primary's own series about its workers. */
export class WorkerMetricsOfPrimary {
  readonly restarts: Counter;

  constructor(registry: Registry, listening: () => number) {
    this.restarts = new Counter({
      name: 'kratos_gateway_worker_restarts_total',
      help: 'Worker processes that exited unexpectedly and were replaced.',
      registers: [registry],
    });
    new Gauge({
      name: 'kratos_gateway_workers',
      help: 'Worker processes listening on the proxy port.',
      registers: [registry],
      collect() {
        this.set(listening());
      },
    });
  }
}
