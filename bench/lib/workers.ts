/**
 * The workers measurement (`proxy.workers`), shared by `npm run bench:workers` and scenario (w) of
 * `npm run bench`: kratos-gateway as the real process tree (`node --import tsx src/main.ts`)
 * with proxy.workers 1, 2 and `auto`, one cached session, autocannon in its own process. Each
 * row has req/s, p50/p99, CPU per request of the whole gateway (primary + workers, from /proc)
 * and of the primary alone, and the machine's CPU use during the run: where the load generator,
 * the upstream and the gateway share few cores, more workers cannot add throughput, and the
 * CPU columns show where it went.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runLoad, type LoadResult } from './load.js';
import { cpuSeconds, freePort, machineCpu, sleep } from './proc.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface WorkersRow {
  workers: string;
  processes: number;
  result: LoadResult;
  gatewayUsPerReq: number;
  /** The primary alone (it accepts no proxied connection of its own; with keep-alive it should idle). */
  primaryUsPerReq: number;
  machineBusy: number;
}

export interface WorkersBenchEnv {
  upstreamUrl: string;
  kratosUrl: string;
  /** A session token Kratos knows (one cached session is the load). */
  token: string;
  duration: number;
  warmup: number;
  connections: number;
}

/** Measures the gateway with each proxy.workers setting in turn (one process tree at a time). */
export async function measureWorkers(env: WorkersBenchEnv, settings: Array<number | 'auto'>): Promise<WorkersRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-workers-'));
  try {
    const rows: WorkersRow[] = [];
    for (const w of settings) rows.push(await runWith(env, dir, w));
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runWith(env: WorkersBenchEnv, dir: string, workers: number | 'auto'): Promise<WorkersRow> {
  const { token, duration, warmup, connections } = env;
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, `gateway-${workers}.yaml`);
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { host: '127.0.0.1', port: proxyPort }, shutdown_grace_ms: 1_000, workers },
      admin: { listen: { host: '127.0.0.1', port: adminPort } },
      kratos: { public_url: env.kratosUrl },
      ui: { enabled: false },
      log: { level: 'info', access_log: true },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: env.upstreamUrl, auth: 'required', on_unauthenticated: 'json' }],
    }),
  );
  // Production logging (access log on) into /dev/null: every line is still serialised and written.
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the gateway exited ${child.exitCode}: ${stderr}`);
      const ready = await fetch(`http://127.0.0.1:${adminPort}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the gateway was not ready within 60 s: ${stderr}`);
      await sleep(200);
    }
    const url = `http://127.0.0.1:${proxyPort}/`;
    const check = await fetch(url, { headers: { 'x-session-token': token } });
    await check.arrayBuffer();
    if (check.status !== 200) throw new Error(`the gateway answered ${check.status} for a valid session`);
    const spec = { kind: 'http' as const, url, connections, duration, tokens: { mode: 'fixed' as const, token } };
    if (warmup > 0) await runLoad({ ...spec, duration: warmup });
    const cpu0 = cpuSeconds(child.pid!);
    const primary0 = cpuSeconds(child.pid!, false);
    const m0 = machineCpu();
    const result = await runLoad(spec);
    const m1 = machineCpu();
    const gatewayUsPerReq = ((cpuSeconds(child.pid!) - cpu0) * 1e6) / result.total;
    const primaryUsPerReq = ((cpuSeconds(child.pid!, false) - primary0) * 1e6) / result.total;
    const machineBusy = (m1.busy - m0.busy) / (m1.total - m0.total);
    const processes = workers === 'auto' ? availableParallelism() : workers;
    return {
      workers: String(workers),
      processes: processes > 1 ? processes + 1 : 1,
      result,
      gatewayUsPerReq,
      primaryUsPerReq,
      machineBusy,
    };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** The rows as a Markdown table. */
export function workersTable(rows: readonly WorkersRow[]): string[] {
  return [
    '| proxy.workers | processes | req/s | p50 ms | p99 ms | gateway CPU µs/req | of which primary | machine busy | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.processes} | ${Math.round(r.result.rps)} | ${r.result.p50.toFixed(2)} | ${r.result.p99.toFixed(2)} | ${r.gatewayUsPerReq.toFixed(0)} | ${r.processes > 1 ? r.primaryUsPerReq.toFixed(1) : '—'} | ${(r.machineBusy * 100).toFixed(0)} % | ${r.result.non2xx} | ${r.result.errors} |`,
    ),
  ];
}
