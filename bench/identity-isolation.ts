/**
 * `npm run bench:isolation` (the identity server isolated from the data plane): latency of a proxied anonymous route while the
 * embedded identity server is busy with sign-ups, with the identity server on the gateway's
 * own event loop (`inprocess`, how startGateway ran it before) and on its worker thread
 * (`worker`, now). Gateway, upstream and registration load each run in their own process;
 * this process only probes: sequential GETs of /public/ over one keep-alive connection.
 *
 *   --idle 3  --busy 8  --concurrency 8  --kind valid|oversized|mixed [mixed]  --modes inprocess,worker
 *
 * Loopback only; every phase is bounded in time. Prints a markdown table.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { num, parseArgs } from './lib/args.js';
import { startNode } from './lib/proc.js';

const args = parseArgs(process.argv.slice(2));
const idle = num(args, 'idle', 3);
const busy = num(args, 'busy', 8);
const concurrency = num(args, 'concurrency', 8);
const kind = args.get('kind') ?? 'mixed';
const modes = (args.get('modes') ?? 'inprocess,worker').split(',');

interface Probe {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function probe(url: string, seconds: number): Promise<Probe> {
  const pool = new Pool(url, { connections: 1 });
  const ms: number[] = [];
  const until = performance.now() + seconds * 1000;
  try {
    while (performance.now() < until) {
      const t0 = performance.now();
      const res = await pool.request({ path: '/public/', method: 'GET' });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`/public/ answered ${res.statusCode}`);
      ms.push(performance.now() - t0);
    }
  } finally {
    await pool.close();
  }
  ms.sort((a, b) => a - b);
  return {
    n: ms.length,
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    p50: pct(ms, 50),
    p99: pct(ms, 99),
    max: ms[ms.length - 1] ?? NaN,
  };
}

const rows: string[] = [];
const upstream = await startNode<{ url: string }>('servers/upstream.ts');
const attacker = await startNode('load/registrations.ts');
try {
  for (const mode of modes) {
    const gw = await startNode<{ url: string; identityThread: boolean }>('servers/identity-gateway.ts', [mode, upstream.ready.url]);
    try {
      await probe(gw.ready.url, 1); // warm-up
      type Eld = { p50: number; p99: number; max: number };
      await gw.ask({ op: 'eld-reset' });
      const quiet = await probe(gw.ready.url, idle);
      const quietEld = await gw.ask<Eld>({ op: 'eld' });
      const load = attacker.ask<{ statuses: Record<string, number> }>(
        { op: 'run', url: gw.ready.url, seconds: busy, concurrency, kind },
        (busy + 30) * 1000,
      );
      // Let the load ramp up, and stop probing before it stops.
      await new Promise((r) => setTimeout(r, 500));
      await gw.ask({ op: 'eld-reset' });
      const loaded = await probe(gw.ready.url, busy - 1);
      const loadedEld = await gw.ask<Eld>({ op: 'eld' });
      const { statuses } = await load;
      const done = Object.entries(statuses)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
      const f = (x: number) => x.toFixed(1);
      const e = (x: Eld) => `${f(x.p99)} / ${f(x.max)}`;
      rows.push(
        `| ${mode} | idle | ${quiet.n} | ${f(quiet.mean)} | ${f(quiet.p50)} | ${f(quiet.p99)} | ${f(quiet.max)} | ${e(quietEld)} | |`,
      );
      rows.push(
        `| ${mode} | sign-ups (${kind}, ${concurrency} loops) | ${loaded.n} | ${f(loaded.mean)} | ${f(loaded.p50)} | ${f(loaded.p99)} | ${f(loaded.max)} | ${e(loadedEld)} | ${done} |`,
      );
      console.error(`${mode}: done`);
    } finally {
      await gw.stop();
    }
  }
} finally {
  await attacker.stop();
  await upstream.stop();
}

console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}; idle ${idle}s, busy ${busy}s\n`,
);
console.log(
  '| identity server | phase | probes | mean ms | p50 ms | p99 ms | max ms | gateway loop delay p99 / max ms | sign-up responses (kind status: count) |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
