/**
 * The load generator, always in its own process (forked by bench/lib/load.ts) so it never
 * shares an event loop with a system under test. argv[2] is a LoadSpec as JSON; the result
 * goes back over IPC. Every loop here is bounded by a request count or a duration.
 */
import autocannon, { type Result } from 'autocannon';
import WebSocket from 'ws';
import type { GrpcHolSpec, GrpcLoadSpec, HolResult } from './grpc.js';
import { loadResultOf } from './latencies.js';
import { runGrpcCheck, type GrpcCheckLoadSpec } from './grpc-check.js';

export type TokenPlan =
  | { mode: 'none' }
  | { mode: 'fixed'; token: string }
  /** Round-robin over `${prefix}${i}` for i in [start, start+count): one counter shared by all connections. */
  | { mode: 'cycle'; prefix: string; count: number; start?: number }
  /** A new token for every request: `${prefix}${n}`, n counting up. */
  | { mode: 'unique'; prefix: string }
  /** Round-robin over a list of tokens (one counter shared by all connections). */
  | { mode: 'list'; tokens: string[] }
  /**
   * Mixed traffic with a moving live set (the memory soak): `invalidShare` of the requests carry
   * a never-seen invalid token (`${invalidPrefix}${n}`), `hotShare` the one `hotToken`, the rest
   * one of the sessions in use now: session i (`${prefix}${i}`) comes into use at
   * i / newPerSecond seconds after the run began and is used, picked uniformly, for
   * `liveSeconds`; so newPerSecond × liveSeconds sessions are in use at any time.
   */
  | {
      mode: 'soak';
      prefix: string;
      newPerSecond: number;
      liveSeconds: number;
      hotToken: string;
      hotShare: number;
      invalidPrefix: string;
      invalidShare: number;
    };

export interface HttpLoadSpec {
  kind: 'http';
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  amount?: number;
  /** Seconds of unmeasured load first, same shape. */
  warmup?: number;
  /** Requests per second across all connections (for the latency-at-half-peak check). */
  rate?: number;
  tokens: TokenPlan;
  header?: string;
}

export interface WsLoadSpec {
  kind: 'ws';
  url: string;
  connections: number;
  duration: number;
  warmup?: number;
  token: string;
}

export type { GrpcHolSpec, GrpcLoadSpec, HolResult } from './grpc.js';

export type LoadSpec = HttpLoadSpec | WsLoadSpec | GrpcCheckLoadSpec | GrpcLoadSpec | GrpcHolSpec;

export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  status: Record<string, number>;
  seconds: number;
  /** CPU seconds the load generator itself used in the measured phase. */
  loadCpu: number;
  /** The gRPC head-of-line check (kind `grpc-hol`). */
  hol?: HolResult;
}

function httpOptions(spec: HttpLoadSpec, phase: { duration?: number; amount?: number }) {
  const header = spec.header ?? 'x-session-token';
  const t = spec.tokens;
  const base = { url: spec.url, connections: spec.connections, timeout: 10, ...phase, ...(spec.rate ? { overallRate: spec.rate } : {}) };
  if (t.mode === 'none') return base;
  if (t.mode === 'fixed') return { ...base, headers: { [header]: t.token } };
  let n = 0;
  const next =
    t.mode === 'soak'
      ? soakTokens(t)
      : t.mode === 'cycle'
        ? () => `${t.prefix}${(t.start ?? 0) + (n++ % t.count)}`
        : t.mode === 'list'
          ? () => t.tokens[n++ % t.tokens.length]!
          : () => `${t.prefix}${n++}`;
  return {
    ...base,
    requests: [
      {
        method: 'GET',
        path: '/',
        setupRequest: (req: { headers?: Record<string, string> }) => {
          req.headers = { [header]: next() };
          return req;
        },
      },
    ],
  };
}

function soakTokens(t: Extract<TokenPlan, { mode: 'soak' }>): () => string {
  let started: number | undefined;
  let invalid = 0;
  const window = Math.max(1, Math.round(t.newPerSecond * t.liveSeconds));
  return () => {
    const r = Math.random();
    if (r < t.invalidShare) return `${t.invalidPrefix}${invalid++}`;
    if (r < t.invalidShare + t.hotShare) return t.hotToken;
    started ??= performance.now();
    const newest = Math.floor(((performance.now() - started) / 1000) * t.newPerSecond);
    const oldest = Math.max(0, newest - window + 1);
    return `${t.prefix}${oldest + Math.floor(Math.random() * (newest - oldest + 1))}`;
  };
}

function summarize(r: Result): LoadResult {
  const status: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) status[code] = s.count;
  const total = r.requests.total;
  return {
    rps: total / r.duration,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    status,
    seconds: r.duration,
    loadCpu: 0,
  };
}

async function runHttp(spec: HttpLoadSpec): Promise<LoadResult> {
  if (spec.warmup) await autocannon(httpOptions(spec, { duration: spec.warmup }));
  const phase = spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration ?? 5 };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const result = summarize(await autocannon(httpOptions(spec, phase)));
  const elapsed = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  // autocannon reports whole seconds; a fixed-count run (c, d) needs the real elapsed time.
  if (spec.amount !== undefined) {
    result.seconds = elapsed;
    result.rps = result.total / elapsed;
  }
  return { ...result, loadCpu: (used.user + used.system) / 1e6 };
}

/** Each of `connections` loops: open a WebSocket (handshake through the system), one echo, close. */
async function runWs(spec: WsLoadSpec, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const status: Record<string, number> = {};
  const started = performance.now();
  const end = started + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const ws = new WebSocket(spec.url, { headers: { 'x-session-token': spec.token } });
      const timer = setTimeout(() => ws.terminate(), 10_000);
      ws.once('open', () => ws.send('ping'));
      ws.once('message', () => {
        latencies.push(performance.now() - t0);
        status['101'] = (status['101'] ?? 0) + 1;
        ws.close();
      });
      ws.once('unexpected-response', (_req, res) => {
        status[String(res.statusCode)] = (status[String(res.statusCode)] ?? 0) + 1;
        ws.terminate();
      });
      ws.once('error', () => {
        errors++;
      });
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const secs = (performance.now() - started) / 1000;
  return loadResultOf(latencies, status, errors, secs);
}

// Specs arrive over IPC (token lists are too long for argv), one at a time; the process stays
// up between runs so each measurement does not pay a process start.
process.on('message', async (msg: { spec: LoadSpec; id: number }) => {
  const spec = msg.spec;
  try {
    let result: LoadResult;
    if (spec.kind === 'grpc' || spec.kind === 'grpc-hol') {
      // grpc-js is loaded only by the runs that need it.
      const g = await import('./grpc.js');
      result = spec.kind === 'grpc' ? await g.runGrpc(spec) : await g.runGrpcHol(spec);
    } else if (spec.kind === 'ws') {
      if (spec.warmup) await runWs(spec, spec.warmup);
      const cpu = process.cpuUsage();
      result = await runWs(spec, spec.duration);
      const used = process.cpuUsage(cpu);
      result.loadCpu = (used.user + used.system) / 1e6;
    } else if (spec.kind === 'grpc-check') {
      result = await runGrpcCheck(spec);
    } else {
      result = await runHttp(spec);
    }
    process.send?.({ id: msg.id, result });
  } catch (err) {
    process.send?.({ id: msg.id, error: (err as Error).stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
