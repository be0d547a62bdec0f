/**
 * The grpc scenario (`npm run bench -- --scenarios grpc`): unary gRPC calls with one cached
 * session through each system, measured in the same run, and the head-of-line check (one
 * connection, 100 calls at once, one of them slow). Systems: lib/grpc-systems.ts.
 */
import { cpuSeconds, startNode } from './proc.js';
import { measure, summarize, type MeasureContext, type Sample } from './measure.js';
import { runLoad, type HolResult } from './load.js';
import type { ScenarioReport } from './report.js';
import type { SystemEnv } from './systems.js';
import { GRPC_LABELS, GRPC_SYSTEMS, startGrpcSystem, type GrpcSystem, type GrpcSystemId } from './grpc-systems.js';
import { echoClient, grpc } from '../grpc/service.js';

export interface GrpcOptions {
  ctx: MeasureContext;
  env: SystemEnv;
  /** Systems asked for (`--systems`); those of GRPC_SYSTEMS among them run. */
  systems: string[];
  token: string;
  duration: number;
  warmup: number;
  reps: number;
  /** Client connections and calls in flight over them. */
  connections: number;
  concurrency: number;
  upstreamImpl: 'http2' | 'grpc-js';
  hol: { concurrent: number; slowDelayMs: number; rounds: number };
  log(msg: string): void;
  notes: string[];
}

export interface GrpcExtra {
  upstreamImpl: string;
  connections: number;
  concurrency: number;
  /** The gRPC status an invalid token got from each system. */
  refusalCode: Record<string, string>;
  /** CPU µs per call of the gRPC upstream, median over the repetitions, per system. */
  upstreamUsPerCall: Record<string, number>;
  hol: { concurrent: number; slowDelayMs: number; rounds: number; results: Record<string, HolResult> };
  /** Systems that could not carry gRPC in this build, with why. */
  pending: Record<string, string>;
}

/** One unary call from the harness (sanity only): resolves with its gRPC status code. */
function probe(address: string, token: string): Promise<number> {
  const client = echoClient(address);
  const md = new grpc.Metadata();
  md.set('x-session-token', token);
  return new Promise<number>((resolve) => {
    client.Unary({ text: 'sanity' }, md, { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      resolve(err ? err.code : res?.text === 'sanity' ? 0 : -1);
    });
  });
}

const codeName = (code: number) => `${code} ${grpc.status[code] ?? 'wrong reply'}`;

export async function grpcScenario(o: GrpcOptions): Promise<ScenarioReport> {
  const upstream = await startNode<{ address: string; port: number; impl: string }>('servers/grpc-upstream.ts', [
    JSON.stringify({ impl: o.upstreamImpl }),
  ]);
  const env = { ...o.env, grpcAddress: upstream.ready.address, grpcPort: upstream.ready.port };
  const ctx: MeasureContext = { ...o.ctx, helperPids: [...o.ctx.helperPids, upstream.pid] };
  const extra: GrpcExtra = {
    upstreamImpl: o.upstreamImpl === 'grpc-js' ? '@grpc/grpc-js server' : 'node:http2 echo (servers/grpc-upstream.ts)',
    connections: o.connections,
    concurrency: o.concurrency,
    refusalCode: {},
    upstreamUsPerCall: {},
    hol: { ...o.hol, results: {} },
    pending: {},
  };
  const running = new Map<GrpcSystemId, GrpcSystem>();
  const raw: Record<string, Sample[]> = {};
  const upstreamUs: Record<string, number[]> = {};
  try {
    for (const id of GRPC_SYSTEMS.filter((s) => o.systems.includes(s))) {
      let s: GrpcSystem | undefined;
      try {
        s = await startGrpcSystem(id, env);
        const ok = await probe(s.address, o.token);
        if (ok !== 0) throw new Error(`a call with a valid session got ${codeName(ok)}`);
        if (id !== 'direct' && id !== 'floor') {
          const bad = await probe(s.address, 'invalid.sanity');
          if (bad === 0) throw new Error('a call with an invalid token was let through');
          extra.refusalCode[id] = codeName(bad);
        }
        running.set(id, s);
      } catch (err) {
        // The child's stderr ends the message: its `config error:` line, else its first line, says why.
        const lines = (err as Error).message.split('\n').map((l) => l.trim());
        const configErrors = lines.filter((l) => l.startsWith('config error:'));
        const why = (configErrors.length ? configErrors.join('; ') : (lines[0] ?? 'unknown')).slice(0, 300);
        await s?.stop().catch(() => {});
        extra.pending[id] = why;
        o.notes.push(`grpc: ${GRPC_LABELS[id]} left out: ${why}`);
        o.log(`grpc ${id}: left out: ${why}`);
      }
    }
    const ids = [...running.keys()];
    o.log(`grpc: measuring ${ids.join(', ')} (upstream: ${extra.upstreamImpl})`);
    const warmed = new Set<GrpcSystemId>();
    for (let r = 0; r < o.reps; r++) {
      for (const id of [...ids.slice(r % ids.length), ...ids.slice(0, r % ids.length)]) {
        const s = running.get(id)!;
        // A fresh Node process needs seconds of load before V8 has optimised its hot path.
        const warmup = warmed.has(id) ? o.warmup : Math.max(o.warmup, 3);
        warmed.add(id);
        const spec = { kind: 'grpc' as const, address: s.address, connections: o.connections, concurrency: o.concurrency, token: o.token };
        await runLoad({ ...spec, duration: warmup });
        const up0 = cpuSeconds(upstream.pid);
        const sample = await measure(ctx, s, { ...spec, duration: o.duration });
        (upstreamUs[id] ??= []).push(((cpuSeconds(upstream.pid) - up0) * 1e6) / Math.max(1, sample.total));
        (raw[id] ??= []).push(sample);
        o.log(
          `grpc rep ${r + 1} ${id.padEnd(8)} ${Math.round(sample.rps)} calls/s p50 ${sample.p50.toFixed(2)} ms p99 ${sample.p99.toFixed(2)} ms ` +
            `${sample.sutCpu > 0 ? ((sample.sutCpu * 1e6) / sample.total).toFixed(1) : '–'} µs CPU/call whoami ${sample.whoami} non-OK ${sample.non2xx} other-load ${(sample.otherBusy * 100).toFixed(0)}%`,
        );
      }
    }
    for (const [id, xs] of Object.entries(upstreamUs)) extra.upstreamUsPerCall[id] = xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    for (const id of ids) {
      const s = running.get(id)!;
      const result = await runLoad({ kind: 'grpc-hol', address: s.address, token: o.token, ...o.hol });
      extra.hol.results[id] = result.hol!;
      const h = result.hol!;
      o.log(
        `grpc hol ${id.padEnd(8)} fast p50 ${h.fastP50.toFixed(1)} p99 ${h.fastP99.toFixed(1)} max ${h.fastMax.toFixed(1)} ms; slow ${h.slow.map((x) => x.toFixed(0)).join(',')} ms; fast after slow ${h.fastAfterSlow}; failed ${h.failed}`,
      );
    }
  } finally {
    for (const s of running.values()) await s.stop().catch(() => {});
    await upstream.stop();
  }
  return {
    title: `gRPC: unary calls, one cached session (${o.concurrency} in flight over ${o.connections} connection${o.connections === 1 ? '' : 's'})`,
    rows: Object.fromEntries(Object.entries(raw).map(([id, ss]) => [id, summarize(ss)])),
    raw,
    extra: extra as unknown as Record<string, unknown>,
  };
}
