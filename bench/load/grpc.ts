/**
 * gRPC load for the grpc scenario, run inside the load generator process (load/worker.ts):
 * `@grpc/grpc-js` clients, each its own channel and so its own TCP connection, with a fixed
 * number of unary calls in flight. Every loop is bounded by a duration and by a call count,
 * and every call by a 10 s deadline.
 */
import { echoClient, grpc, type EchoClient, type Msg } from '../grpc/service.js';
import type { LoadResult } from './worker.js';
import { loadResultOf } from './latencies.js';

export interface GrpcLoadSpec {
  kind: 'grpc';
  /** host:port of the system under test (h2c). */
  address: string;
  /** Client channels, each one connection. */
  connections: number;
  /** Calls in flight at any time, spread over the connections. */
  concurrency: number;
  /** Seconds measured; the run also stops after `amount` calls (default 10 million). */
  duration: number;
  amount?: number;
  warmup?: number;
  token: string;
}

/**
 * The head-of-line check: one connection, `concurrent` calls at once, of which one asks the
 * upstream to wait `slowDelayMs` before answering; `rounds` times.
 */
export interface GrpcHolSpec {
  kind: 'grpc-hol';
  address: string;
  concurrent: number;
  slowDelayMs: number;
  rounds: number;
  token: string;
}

export interface HolResult {
  /** Latencies (ms) of the fast calls that succeeded, all rounds. */
  fastP50: number;
  fastP99: number;
  fastMax: number;
  fastCount: number;
  /** Fast calls that completed after the slow call of their round: stalled behind it. */
  fastAfterSlow: number;
  /** Latency (ms) of each round's slow call (when it succeeded). */
  slow: number[];
  failed: number;
}

const CALL_DEADLINE_MS = 10_000;
const TEXT = '{"ok":true,"service":"bench-upstream"}'; // the HTTP upstream's 38-byte body

function call(client: EchoClient, md: grpc.Metadata, req: Msg): Promise<number> {
  return new Promise((resolve) => {
    client.Unary(req, md, { deadline: Date.now() + CALL_DEADLINE_MS }, (err) => resolve(err ? err.code : 0));
  });
}

function clients(address: string, n: number): Promise<EchoClient[]> {
  // A private subchannel pool per client: otherwise grpc-js shares one connection among them.
  const cs = Array.from({ length: n }, () => echoClient(address, { 'grpc.use_local_subchannel_pool': 1 }));
  return Promise.all(
    cs.map(
      (c) =>
        new Promise<EchoClient>((resolve, reject) =>
          c.waitForReady(Date.now() + CALL_DEADLINE_MS, (err) => (err ? reject(err) : resolve(c))),
        ),
    ),
  );
}

function metadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-session-token', token);
  return md;
}

const quantile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);

/** `concurrency` loops of calls for `seconds` or until `cap` calls: latencies of the OK ones, every outcome counted. */
async function phase(cs: EchoClient[], spec: GrpcLoadSpec, seconds: number, cap: number): Promise<LoadResult> {
  const md = metadata(spec.token);
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let issued = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async (_, i) => {
      const client = cs[i % cs.length]!;
      while (issued < cap && performance.now() < end) {
        issued++;
        const t0 = performance.now();
        const code = await call(client, md, { text: TEXT });
        if (code === 0) latencies.push(performance.now() - t0);
        status[`grpc ${code}`] = (status[`grpc ${code}`] ?? 0) + 1;
      }
    }),
  );
  return loadResultOf(latencies, status, 0, (performance.now() - started) / 1000);
}

export async function runGrpc(spec: GrpcLoadSpec): Promise<LoadResult> {
  const cs = await clients(spec.address, Math.max(1, spec.connections));
  try {
    const cap = spec.amount ?? 10_000_000;
    if (spec.warmup) await phase(cs, spec, spec.warmup, cap);
    const cpu = process.cpuUsage();
    const result = await phase(cs, spec, spec.duration, cap);
    const used = process.cpuUsage(cpu);
    result.timeouts = result.status[`grpc ${grpc.status.DEADLINE_EXCEEDED}`] ?? 0;
    return { ...result, loadCpu: (used.user + used.system) / 1e6 };
  } finally {
    for (const c of cs) c.close();
  }
}

export async function runGrpcHol(spec: GrpcHolSpec): Promise<LoadResult & { hol: HolResult }> {
  const [client] = await clients(spec.address, 1);
  const md = metadata(spec.token);
  const fast: number[] = [];
  const slow: number[] = [];
  let fastAfterSlow = 0;
  let failed = 0;
  const status: Record<string, number> = {};
  const started = performance.now();
  try {
    for (let round = 0; round < spec.rounds; round++) {
      const t0 = performance.now();
      let slowDone = false;
      const timed = async (req: Msg, isSlow: boolean) => {
        const code = await call(client!, md, req);
        const ms = performance.now() - t0;
        status[`grpc ${code}`] = (status[`grpc ${code}`] ?? 0) + 1;
        if (isSlow) slowDone = true;
        if (code !== 0) failed++;
        else if (isSlow) slow.push(ms);
        else {
          fast.push(ms);
          if (slowDone) fastAfterSlow++;
        }
      };
      // The slow call goes out first, so every fast call is sent while it is in flight.
      await Promise.all([
        timed({ text: TEXT, delay_ms: spec.slowDelayMs }, true),
        ...Array.from({ length: spec.concurrent - 1 }, () => timed({ text: TEXT }, false)),
      ]);
    }
  } finally {
    client!.close();
  }
  fast.sort((a, b) => a - b);
  return {
    // Latency figures of the fast calls; calls/s counts the OK ones, slow included.
    ...loadResultOf([...fast, ...slow], status, 0, (performance.now() - started) / 1000),
    p50: quantile(fast, 0.5),
    p90: quantile(fast, 0.9),
    p99: quantile(fast, 0.99),
    max: quantile(fast, 1),
    hol: {
      fastP50: quantile(fast, 0.5),
      fastP99: quantile(fast, 0.99),
      fastMax: quantile(fast, 1),
      fastCount: fast.length,
      fastAfterSlow,
      slow,
      failed,
    },
  };
}
