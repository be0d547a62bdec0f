/** The grpc scenario's Markdown (lib/grpc-bench.ts): throughput, CPU per call, refusals, head-of-line check, targets. */
import type { Report, ScenarioReport } from './report.js';
import type { GrpcExtra } from './grpc-bench.js';
import { GRPC_LABELS, type GrpcSystemId } from './grpc-systems.js';

const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);
const verdict = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? '**met**' : '**not met**');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function grpcSection(r: Report, sc: ScenarioReport, targets: string[][]): string[] {
  const x = sc.extra as unknown as GrpcExtra;
  const label = (id: string) => GRPC_LABELS[id as GrpcSystemId] ?? id;
  const usPerCall = (id: string) => (sc.rows[id]?.perCoreSecond ? 1e6 / sc.rows[id].perCoreSecond : undefined);
  const s = r.settings as { duration: number; warmup: number; reps: number };
  const out = [
    `## ${sc.title}`,
    '',
    `Load: \`@grpc/grpc-js\` clients in the load generator process (\`bench/load/grpc.ts\`), ${x.concurrency} unary calls in flight over ${x.connections} client connection(s), each call carrying the session token as \`x-session-token\` metadata and a 38-byte string; ${s.warmup} s warm-up (3 s for a system's first run), ${s.duration} s measured, median of ${s.reps} repetitions, systems interleaved. Upstream: ${x.upstreamImpl}. "CPU µs per call" is the CPU time of the system's own process(es) (nginx's workers included) divided by the calls completed; "× floor" compares it with the node:http2 pass-through. "upstream µs/call" is the gRPC server's CPU per call in the same runs.`,
    '',
    '| system | calls/s | × direct | p50 ms | p99 ms | CPU µs per call | × floor CPU | upstream µs/call | whoami calls | RSS MiB (end) | invalid token → | non-OK | other load (max) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  const direct = sc.rows.direct?.rps;
  for (const [id, row] of Object.entries(sc.rows)) {
    const own = id === 'direct' ? undefined : usPerCall(id);
    out.push(
      `| ${label(id)} | ${f0(row.rps)} | ${id === 'direct' ? '1.00×' : ratio(row.rps, direct)} | ${f2(row.p50)} | ${f2(row.p99)} | ${f1(own)} | ${id === 'direct' ? '–' : ratio(own, usPerCall('floor'))} | ${f1(x.upstreamUsPerCall[id])} | ${id === 'direct' || id === 'floor' ? '–' : f0(row.whoami)} | ${id === 'direct' ? '–' : f1(row.rssMiB)} | ${x.refusalCode[id] ?? '–'} | ${row.non2xx} | ${Math.round(row.otherBusy * 100)}% |`,
    );
  }
  for (const [id, why] of Object.entries(x.pending))
    out.push(`| ${label(id)} | pending: ${why.replace(/\|/g, '/')} | | | | | | | | | | | |`);
  out.push(
    '',
    `**Head-of-line check:** one client connection, ${x.hol.concurrent} concurrent unary calls, one of which asks the upstream to answer after ${x.hol.slowDelayMs} ms (sent first, so the other ${x.hol.concurrent - 1} go out while it is in flight); ${x.hol.rounds} rounds. A system with no head-of-line stall answers the fast calls as if the slow one were not there.`,
    '',
    `| system | fast calls | fast p50 ms | fast p99 ms | fast max ms | slow call ms (median) | fast calls finished after the slow one | failed |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const [id, h] of Object.entries(x.hol.results)) {
    out.push(
      `| ${label(id)} | ${h.fastCount} | ${f1(h.fastP50)} | ${f1(h.fastP99)} | ${f1(h.fastMax)} | ${f0(median(h.slow))} | ${h.fastAfterSlow} | ${h.failed} |`,
    );
  }
  out.push('');

  const kg = sc.rows.kg;
  if (kg && sc.rows.caddy)
    targets.push(["gRPC calls/s ≥ Caddy's", '≥ 1.00×', ratio(kg.rps, sc.rows.caddy.rps), verdict(kg.rps >= sc.rows.caddy.rps)]);
  const kgUs = usPerCall('kg');
  const floorUs = usPerCall('floor');
  if (kgUs !== undefined && floorUs !== undefined)
    targets.push([
      'gRPC CPU per call ≤ 1.3× the node:http2 floor',
      '≤ 1.30×',
      `${f1(kgUs)} µs vs ${f1(floorUs)} µs = ${ratio(kgUs, floorUs)}`,
      verdict(kgUs <= 1.3 * floorUs),
    ]);
  const hol = x.hol.results.kg;
  if (hol)
    targets.push([
      `${x.hol.concurrent} concurrent streams on one connection, no head-of-line stall`,
      `the ${x.hol.concurrent - 1} fast calls finish before the slow one`,
      `fast max ${f1(hol.fastMax)} ms, slow ${f0(median(hol.slow))} ms, ${hol.fastAfterSlow} fast calls after the slow one, ${hol.failed} failed`,
      verdict(hol.fastAfterSlow === 0 && hol.failed === 0),
    ]);
  if (!kg && x.pending.kg) targets.push(['gRPC through kratos-gateway', 'measured', `pending: ${x.pending.kg.replace(/\|/g, '/')}`, '–']);
  return out;
}
