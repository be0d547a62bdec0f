/**
 * The memory scenarios of `npm run bench` (`--scenarios memory,soak`), written to
 * bench/results/memory.md (and a dated JSON beside it), never to latest.md:
 *
 * - `memory`: bytes per cached session at 100,000 and 1,000,000 sessions (`--memory-sessions`),
 *   each in a fresh process (bench/lib/cache-memory-child.ts, --expose-gc), and the cache's own
 *   estimate (session_cache.max_bytes accounting) against the measured heap.
 * - `soak`: kratos-gateway in its own process with `ttl_cap_ms` 30 s under mixed traffic whose
 *   live set moves (a new session every 1/513 s, each used for 30 s, plus one hot session and
 *   invalid tokens) for 150 s (`--soak-seconds`): RSS and cache entries every 5 s.
 *
 * Loopback only; every run bounded by a session count or a duration.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { num } from './args.js';
import { startKratos } from './kratos.js';
import { runLoad, type LoadResult } from './load.js';
import { BENCH_DIR, sleep, startNode } from './proc.js';
import { startSystem, type SystemEnv, type SystemId } from './systems.js';
import { TYPICAL_IDENTITY_HEADERS } from './typical-identity.js';

export const MEMORY_SCENARIOS = ['memory', 'soak'];

export interface CacheMemory {
  sessions: number;
  held: number;
  maxBytes: number;
  fillMs: number;
  heapBytesPerSession: number;
  externalBytesPerSession: number;
  bytesPerSession: number;
  rssBytesPerSession: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  estimatedBytesPerSession: number;
  measuredOverEstimate: number;
}

export interface SoakSample {
  seconds: number;
  rssMiB: number;
  heapUsedMiB: number;
  entries: number;
}

export interface SoakResult {
  seconds: number;
  ttlCapMs: number;
  newPerSecond: number;
  liveSeconds: number;
  connections: number;
  samples: SoakSample[];
  load: LoadResult;
  whoamiCalls: number;
  /** V8 heap in use and RSS after a forced GC, before the load and once it is over (not during: that would change what is measured). */
  settled: {
    before: { heapUsedMiB: number; rssMiB: number; entries: number };
    after: { heapUsedMiB: number; rssMiB: number; entries: number };
  };
}

function cacheMemory(sessions: number, maxBytes: number): Promise<CacheMemory> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', BENCH_DIR + 'lib/cache-memory-child.ts', JSON.stringify({ sessions, maxBytes })],
      { maxBuffer: 1 << 20, timeout: 1_200_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`cache-memory-child ${sessions}: ${err.message} ${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as CacheMemory);
      },
    );
  });
}

async function soak(args: Map<string, string>, log: (m: string) => void): Promise<SoakResult> {
  const seconds = num(args, 'soak-seconds', 150);
  const ttlCapMs = num(args, 'soak-ttl-cap-ms', 30_000);
  const newPerSecond = num(args, 'soak-new-per-second', 513);
  const liveSeconds = num(args, 'soak-live-seconds', 30);
  const connections = num(args, 'soak-connections', 32);
  const everyMs = num(args, 'soak-sample-seconds', 5) * 1000;
  const upstream = await startNode<{ url: string; port: number }>('servers/upstream.ts');
  const kratos = await startKratos('fake', 0);
  const gw = await startSystem('kg', {
    upstreamUrl: upstream.ready.url,
    upstreamPort: upstream.ready.port,
    kratosUrl: kratos.url,
    kratosPort: kratos.port,
    peerCpus: 1,
    gatewayConfig: { sessionCache: { ttl_cap_ms: ttlCapMs }, identityHeaders: TYPICAL_IDENTITY_HEADERS },
  });
  try {
    const samples: SoakSample[] = [];
    const t0 = performance.now();
    const sample = async () => {
      const s = await gw.stats!();
      const at = {
        seconds: Math.round((performance.now() - t0) / 1000),
        rssMiB: s.rss / 2 ** 20,
        heapUsedMiB: s.heapUsed / 2 ** 20,
        entries: s.entries,
      };
      samples.push(at);
      log(
        `soak ${String(at.seconds).padStart(4)} s: RSS ${at.rssMiB.toFixed(1)} MiB, heap ${at.heapUsedMiB.toFixed(1)} MiB, ${at.entries} entries`,
      );
    };
    const settle = async () => {
      const m = await gw.memory!();
      return { heapUsedMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20, entries: m.entries };
    };
    const settledBefore = await settle();
    await sample();
    const load = runLoad({
      kind: 'http',
      url: gw.url + '/',
      connections,
      duration: seconds,
      tokens: {
        mode: 'soak',
        prefix: 'v.soak-',
        newPerSecond,
        liveSeconds,
        hotToken: 'v.soak-hot',
        hotShare: 0.2,
        invalidPrefix: 'invalid.soak-',
        invalidShare: 0.1,
      },
    });
    let done = false;
    void load.finally(() => (done = true)).catch(() => {});
    while (!done) {
      await Promise.race([sleep(everyMs - ((performance.now() - t0) % everyMs)), load.catch(() => {})]);
      if (!done) await sample();
    }
    const result = await load;
    await sample();
    const settled = { before: settledBefore, after: await settle() };
    log(
      `soak after a forced GC: heap ${settled.before.heapUsedMiB.toFixed(1)} → ${settled.after.heapUsedMiB.toFixed(1)} MiB, ${settled.after.entries} entries`,
    );
    return {
      seconds,
      ttlCapMs,
      newPerSecond,
      liveSeconds,
      connections,
      samples,
      load: result,
      whoamiCalls: await kratos.whoamiCalls(),
      settled,
    };
  } finally {
    await gw.stop();
    await kratos.stop();
    await upstream.stop();
  }
}

/**
 * Scenario (h): each system in its own process, one warm-up session, then 100,000 distinct
 * sessions through it; RSS and (kratos-gateway) V8 heap after a forced GC before and after, per
 * entry the cache then holds. kratos-gateway maps the typical identity's two headers, so its
 * entries are what a deployment's are; 100,000 of them exceed the default max_bytes, so the
 * cache ends full at its byte bound and "RSS per cached byte" is what a full cache costs per
 * byte of max_bytes (the Helm chart's memory limit is computed from it). Its ttl_cap_ms is
 * 10 minutes: on a busy machine the fill takes longer than the default minute, and entries
 * expiring (and swept out) during it would leave the cache short of its bound.
 */
export async function memoryPerCachedSession(
  ids: SystemId[],
  env: SystemEnv,
  connections: number,
  log: (m: string) => void,
): Promise<Record<string, unknown>> {
  const offered = 100_000;
  const extra: Record<string, unknown> = { kratos: `fake (bench/servers/whoami.ts): ${offered.toLocaleString('en-US')} sessions` };
  for (const id of ids) {
    const s = await startSystem(id, {
      ...env,
      gatewayConfig: { identityHeaders: TYPICAL_IDENTITY_HEADERS, sessionCache: { ttl_cap_ms: 600_000 } },
    });
    try {
      await runLoad({ kind: 'http', url: s.url + '/', connections, duration: 1, tokens: { mode: 'fixed', token: 'v.h-warm' } });
      const before = s.memory ? await s.memory() : undefined;
      const rssBefore = s.rss();
      const fill = await runLoad({
        kind: 'http',
        url: s.url + '/',
        connections,
        amount: offered,
        tokens: { mode: 'cycle', prefix: 'v.h-', count: offered },
      });
      const after = s.memory ? await s.memory() : undefined;
      await sleep(500);
      const rssAfter = s.rss();
      // Per entry held: the byte bound may keep fewer than were offered.
      const held = after === undefined || before === undefined ? offered : after.entries - before.entries;
      const cacheBytes = after?.cacheBytes;
      extra[id] = {
        sessions: offered,
        ok: fill.ok,
        fillSeconds: fill.seconds,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        rssBytesPerSession: (rssAfter - rssBefore) / held,
        ...(before && after
          ? { heapBytesPerSession: (after.heapUsed - before.heapUsed) / held, cacheEntries: after.entries, gcForced: after.gcForced }
          : {}),
        ...(cacheBytes !== undefined && { cacheBytes, rssPerCachedByte: (rssAfter - rssBefore) / cacheBytes }),
      };
      log(
        `h ${id}: RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB = ${f0((rssAfter - rssBefore) / held)} B per entry${before && after ? `, heap ${f0((after.heapUsed - before.heapUsed) / held)} B per entry, ${after.entries} entries` : ''}${cacheBytes !== undefined ? `, ${(cacheBytes / 2 ** 20).toFixed(1)} MiB estimated` : ''}`,
      );
    } finally {
      await s.stop();
    }
  }
  return extra;
}

const f0 = (x: number) => Math.round(x).toLocaleString('en-US');

function render(date: string, memory: CacheMemory[], soaked: SoakResult | undefined): string {
  const lines = [`# kratos-gateway memory — ${date.slice(0, 16).replace('T', ' ')} UTC`, ''];
  lines.push(
    `**Machine:** ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')}. Rerun: \`npm run bench -- --scenarios memory,soak\` (bench/lib/memory-bench.ts).`,
    '',
  );
  if (memory.length > 0) {
    lines.push(
      '## Bytes per cached session',
      '',
      'A typical identity (email and name, both mapped to identity headers), the real store, resolver keys and summaries, in a fresh process per size; V8 heap + external memory after two forced GCs, before the store is built and after it is filled (so the LRU arrays preallocated for `max_entries` count). "estimate" is what `session_cache.max_bytes` counts per entry.',
      '',
      '| sessions | bytes / session (heap + external) | RSS bytes / session | estimate (max_bytes accounting) | measured / estimate | fill time |',
      '|---:|---:|---:|---:|---:|---:|',
    );
    for (const m of memory)
      lines.push(
        `| ${f0(m.sessions)} | ${f0(m.bytesPerSession)} | ${f0(m.rssBytesPerSession)} | ${f0(m.estimatedBytesPerSession)} | ${m.measuredOverEstimate.toFixed(2)}× | ${(m.fillMs / 1000).toFixed(1)} s |`,
      );
    lines.push('');
  }
  if (soaked !== undefined) {
    const s = soaked;
    const l = s.load;
    const fivexx = Object.entries(l.status)
      .filter(([code]) => code.startsWith('5'))
      .reduce((a, [, n]) => a + n, 0);
    lines.push(
      '## Soak: expired entries release their memory',
      '',
      `kratos-gateway (its own process, \`ttl_cap_ms: ${s.ttlCapMs}\`, default \`max_entries\`/\`max_bytes\`, the typical identity's headers), ${s.connections} connections for ${s.seconds} s: 20 % one hot session, 10 % a never-seen invalid token, 70 % one of the sessions in use (a new one every ${(1000 / s.newPerSecond).toFixed(2)} ms, each in use for ${s.liveSeconds} s: ≈ ${f0(s.newPerSecond * s.liveSeconds)} in use at a time, ≈ ${f0(s.newPerSecond * s.seconds)} over the run). Fake whoami (bench/servers/whoami.ts).`,
      '',
      `Requests: ${f0(l.total)} (${f0(l.rps)} req/s), status ${JSON.stringify(l.status)}, connection errors ${l.errors}, timeouts ${l.timeouts}, 5xx ${fivexx}; whoami calls ${f0(s.whoamiCalls)}.`,
      '',
      `After a forced GC, before the load and once it is over: V8 heap in use ${s.settled.before.heapUsedMiB.toFixed(1)} → ${s.settled.after.heapUsedMiB.toFixed(1)} MiB, RSS ${s.settled.before.rssMiB.toFixed(1)} → ${s.settled.after.rssMiB.toFixed(1)} MiB, cache entries ${f0(s.settled.before.entries)} → ${f0(s.settled.after.entries)}. The samples below are taken without forcing a GC.`,
      '',
      '| s | RSS MiB | V8 heap used MiB | cache entries (sessions + negative) |',
      '|---:|---:|---:|---:|',
      ...s.samples.map((x) => `| ${x.seconds} | ${x.rssMiB.toFixed(1)} | ${x.heapUsedMiB.toFixed(1)} | ${f0(x.entries)} |`),
      '',
    );
  }
  return lines.join('\n');
}

/** Runs the memory scenarios asked for and writes bench/results/memory.md. */
export async function runMemoryScenarios(scenarios: string[], args: Map<string, string>, log: (m: string) => void): Promise<void> {
  const date = new Date().toISOString();
  const memory: CacheMemory[] = [];
  if (scenarios.includes('memory')) {
    const sizes = (args.get('memory-sessions') ?? '100000,1000000').split(',').map(Number);
    for (const n of sizes) {
      // max_bytes far above what n sessions take: this measures entries, not the byte bound.
      const m = await cacheMemory(n, 64 * 2 ** 30);
      memory.push(m);
      log(
        `memory ${f0(n)} sessions: ${f0(m.bytesPerSession)} B/session (heap ${f0(m.heapBytesPerSession)} + external ${f0(m.externalBytesPerSession)}), RSS ${f0(m.rssBytesPerSession)} B/session, estimate ${f0(m.estimatedBytesPerSession)} (measured/estimate ${m.measuredOverEstimate.toFixed(2)})`,
      );
    }
  }
  const soaked = scenarios.includes('soak') ? await soak(args, log) : undefined;
  mkdirSync(BENCH_DIR + 'results', { recursive: true });
  writeFileSync(`${BENCH_DIR}results/memory-${date.replace(/[:.]/g, '-')}.json`, JSON.stringify({ date, memory, soak: soaked }, null, 2));
  const md = render(date, memory, soaked);
  writeFileSync(`${BENCH_DIR}results/memory.md`, md);
  console.log('\n' + md);
}
