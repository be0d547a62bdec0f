/**
 * The `fleet` scenario of `npm run bench` (a fleet sharing one Redis): three kratos-gateway instances (A, B, C) in
 * front of the same Kratos and upstream, once caching alone ("L1 only": `session_cache.shared`
 * off) and once sharing one redis-server ("L1 + L2": fan-out, shared cache, fleet-wide
 * coalescing). Measured, all on loopback and bounded in count and time:
 *
 * - whoami calls per new credential for the fleet: a burst (`burstSize` concurrent first
 *   requests spread over A, B, C) and a sequence (first used on A, then B, then C);
 * - revocation propagation: logout through A's Kratos mount, then B (which had the session
 *   cached) retried back to back until its first 401; p50/p99 of the time from A's logout
 *   response to that 401;
 * - req/s and CPU per request on one instance: a hot session (the hot path: L1 hits, which must
 *   cost the same with `shared` on or off, and the same as a single gateway — `kg` — in the same
 *   run), and "spread" credentials (500 sessions first used on A, then measured on B: whoami
 *   calls with L1 only, L2 hits with Redis), with Redis's own CPU beside it.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { gatewayWhoamiTotal, measure, median, summarize, type MeasureContext, type Sample } from './measure.js';
import { cpuSeconds, freePort, rssOf, startExternal, startNode, type External } from './proc.js';
import { runLoad } from './load.js';
import { hasCommand, type RunningSystem, type SystemEnv, type SystemId } from './systems.js';
import type { Kratos } from './kratos.js';
import type { Row, ScenarioReport } from './report.js';

export type FleetMode = 'fleet-l1' | 'fleet-l2';

export const FLEET_LABELS: Record<FleetMode, string> = {
  'fleet-l1': 'fleet instance, L1 only (shared off)',
  'fleet-l2': 'fleet instance, L1 + L2 (shared on, Redis)',
};

export interface FleetOptions {
  ctx: MeasureContext;
  env: SystemEnv;
  kratos: Kratos;
  duration: number;
  warmup: number;
  reps: number;
  connections: number;
  /** The single gateway (`kg`, shared off) of the same run, measured interleaved with the fleets' hot path. */
  single: (() => Promise<RunningSystem>) | undefined;
  log(msg: string): void;
  /** Revocation samples with Redis (default 60). */
  trials: number;
  /** New credentials per whoami measurement (default 20). */
  credentials: number;
  /** Concurrent first requests per new credential in the burst (default 300). */
  burstSize: number;
  /** Sessions first used on A, then measured on B (default 500). */
  spread: number;
}

export interface FleetWhoami {
  credentials: number;
  burstSize: number;
  /** whoami calls Kratos saw per credential, the burst. */
  burst: number;
  /** The same from the gateways' /metrics. */
  burstGatewayMetric: number;
  burstNon200: number;
  /** First used on A, then B, then C. */
  sequence: number;
  sequenceNon200: number;
}

export interface FleetPropagation {
  trials: number;
  rejected: number;
  staleAfter2s: number;
  firstRequestRejected: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number | null;
  samplesMs: number[];
}

export interface FleetExtra {
  redis: string;
  instances: number;
  whoami: Partial<Record<FleetMode, FleetWhoami>>;
  propagation: Partial<Record<FleetMode, FleetPropagation>>;
  /** Hot path and spread rows; ids: kg (single, shared off), fleet-l1, fleet-l2. */
  hot: Record<string, Row>;
  spread: Record<string, Row>;
  /** Redis CPU µs per request measured on the shared instance (hot, spread). */
  redisCpuUsPerRequest: { hot: number; spread: number };
  notes: string[];
}

/** One fleet member: bench/systems/gateway.ts with or without the shared tier. */
async function startInstance(env: SystemEnv, shared: { redisUrl: string; keyPrefix: string } | undefined): Promise<RunningSystem> {
  const child = await startNode<{ url: string; adminUrl: string }>(
    'systems/gateway.ts',
    [
      JSON.stringify({
        kratosUrl: env.kratosUrl,
        upstreamUrl: env.upstreamUrl,
        cache: true,
        accessLog: true,
        ...(shared ? { shared } : {}),
      }),
    ],
    { execArgv: ['--expose-gc'], timeoutMs: 120_000 },
  );
  return {
    // measure() labels samples with this; relabelled by the caller (not a SystemId of run.ts's list).
    id: 'kg' as SystemId,
    url: child.ready.url,
    adminUrl: child.ready.adminUrl,
    pid: child.pid,
    rss: () => rssOf(child.pid),
    stop: () => child.stop(),
  };
}

async function status(url: string, token: string): Promise<number> {
  const res = await request(url, { headers: { 'x-session-token': token }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  await res.body.dump();
  return res.statusCode;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function fleetWhoami(fleet: RunningSystem[]): Promise<number> {
  return sum(await Promise.all(fleet.map((i) => gatewayWhoamiTotal(i.adminUrl!))));
}

async function whoamiPerCredential(o: FleetOptions, mode: FleetMode, fleet: RunningSystem[]): Promise<FleetWhoami> {
  const burstTokens = await o.kratos.sessions(`${mode}-burst`, o.credentials);
  const k0 = await o.kratos.whoamiCalls();
  const g0 = await fleetWhoami(fleet);
  let burstNon200 = 0;
  for (const token of burstTokens) {
    const answers = await Promise.all(Array.from({ length: o.burstSize }, (_, n) => status(fleet[n % fleet.length]!.url + '/', token)));
    burstNon200 += answers.filter((s) => s !== 200).length;
  }
  const k1 = await o.kratos.whoamiCalls();
  const g1 = await fleetWhoami(fleet);
  const seqTokens = await o.kratos.sessions(`${mode}-seq`, o.credentials);
  const k2 = await o.kratos.whoamiCalls();
  let sequenceNon200 = 0;
  for (const token of seqTokens) for (const i of fleet) if ((await status(i.url + '/', token)) !== 200) sequenceNon200++;
  const k3 = await o.kratos.whoamiCalls();
  return {
    credentials: o.credentials,
    burstSize: o.burstSize,
    burst: (k1 - k0) / o.credentials,
    burstGatewayMetric: (g1 - g0) / o.credentials,
    burstNon200,
    sequence: (k3 - k2) / o.credentials,
    sequenceNon200,
  };
}

/** Quantile by nearest rank. */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

async function propagation(o: FleetOptions, mode: FleetMode, fleet: RunningSystem[], trials: number): Promise<FleetPropagation> {
  const [a, b] = [fleet[0]!, fleet[1]!];
  const tokens = await o.kratos.sessions(`${mode}-revoke`, trials);
  const samples: number[] = [];
  let stale = 0;
  let first = 0;
  let tried = 0;
  for (const token of tokens) {
    // Without fan-out every trial waits out the 2 s bound: three are enough to show it.
    if (tried === 3 && stale === 3) break;
    tried++;
    if ((await status(a.url + '/', token)) !== 200 || (await status(b.url + '/', token)) !== 200)
      throw new Error(`fleet: ${mode} refused a fresh session`);
    await status(b.url + '/', token); // cached on B for sure
    const res = await request(a.url + '/.ory/kratos/public/sessions', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_token: token }),
    });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`fleet: logout through A's mount answered ${res.statusCode}`);
    const t0 = performance.now();
    let rejectedAt: number | undefined;
    // Back to back (each request is the resolution), at most 2 s.
    for (let n = 0; n < 100_000 && performance.now() - t0 < 2_000; n++) {
      if ((await status(b.url + '/', token)) === 401) {
        rejectedAt = performance.now() - t0;
        if (n === 0) first++;
        break;
      }
    }
    if (rejectedAt === undefined) stale++;
    else samples.push(rejectedAt);
  }
  return {
    trials: tried,
    rejected: samples.length,
    staleAfter2s: stale,
    firstRequestRejected: first,
    p50Ms: quantile(samples, 0.5),
    p99Ms: quantile(samples, 0.99),
    maxMs: samples.length ? Math.max(...samples) : null,
    samplesMs: samples.map((x) => Math.round(x * 1000) / 1000),
  };
}

export async function fleetScenario(o: FleetOptions): Promise<ScenarioReport> {
  const extra: FleetExtra = {
    redis: '',
    instances: 3,
    whoami: {},
    propagation: {},
    hot: {},
    spread: {},
    redisCpuUsPerRequest: { hot: NaN, spread: NaN },
    notes: [],
  };
  let redis: (External & { port: number }) | undefined;
  if (hasCommand('redis-server')) {
    const port = await freePort();
    const ext = await startExternal(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      port,
    );
    redis = { ...ext, port };
    const v = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }));
    extra.redis = `redis-server ${v?.[1] ?? '(unknown version)'}`;
  } else {
    extra.notes.push('redis-server is not installed (Debian package redis-server): the L1 + L2 fleet was not measured.');
  }
  const fleets: Partial<Record<FleetMode, RunningSystem[]>> = {};
  try {
    o.log('fleet: starting 3 instances, L1 only' + (redis ? ', and 3 sharing Redis' : ''));
    fleets['fleet-l1'] = await Promise.all([0, 1, 2].map(() => startInstance(o.env, undefined)));
    if (redis) {
      const shared = { redisUrl: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'kratos-gateway-bench:' };
      fleets['fleet-l2'] = await Promise.all([0, 1, 2].map(() => startInstance(o.env, shared)));
    }
    const modes = Object.keys(fleets) as FleetMode[];

    // whoami per new credential, and revocation propagation.
    for (const mode of modes) {
      const w = await whoamiPerCredential(o, mode, fleets[mode]!);
      extra.whoami[mode] = w;
      o.log(
        `fleet ${mode}: whoami per new credential: burst of ${w.burstSize} over 3 instances ${w.burst.toFixed(2)} (gateway metric ${w.burstGatewayMetric.toFixed(2)}), first used on A then B then C ${w.sequence.toFixed(2)}; non-200 ${w.burstNon200 + w.sequenceNon200}`,
      );
      const p = await propagation(o, mode, fleets[mode]!, o.trials);
      extra.propagation[mode] = p;
      o.log(
        `fleet ${mode}: logout on A → 401 on B: ${p.rejected}/${p.trials} within 2 s, p50 ${p.p50Ms.toFixed(2)} ms, p99 ${p.p99Ms.toFixed(2)} ms, first request rejected ${p.firstRequestRejected}`,
      );
    }

    // Hot path on one instance: single kg vs fleet L1 vs fleet L2, interleaved per repetition.
    const hot = (await o.kratos.sessions('fleet-hot', 1))[0]!;
    const hotRaw: Record<string, Sample[]> = {};
    const spreadRaw: Record<string, Sample[]> = {};
    const redisCpu = { hot: [] as number[], spread: [] as number[] };
    const warmed = new Set<string>();
    const systems: Array<[string, () => Promise<RunningSystem>]> = [
      ...(o.single ? [['kg', o.single] as [string, () => Promise<RunningSystem>]] : []),
      ...modes.map((m): [string, () => Promise<RunningSystem>] => [m, () => Promise.resolve(fleets[m]![0]!)]),
    ];
    for (let r = 0; r < o.reps; r++) {
      for (let k = 0; k < systems.length; k++) {
        const [id, get] = systems[(k + r) % systems.length]!;
        const s = await get();
        await runLoad({
          kind: 'http',
          url: s.url + '/',
          connections: o.connections,
          duration: warmed.has(id) ? o.warmup : Math.max(o.warmup, 3),
          tokens: { mode: 'fixed', token: hot },
        });
        warmed.add(id);
        const r0 = redis ? cpuSeconds(redis.pid) : 0;
        const sample = await measure(o.ctx, s, {
          kind: 'http',
          url: s.url + '/',
          connections: o.connections,
          duration: o.duration,
          tokens: { mode: 'fixed', token: hot },
        });
        sample.system = id;
        if (id === 'fleet-l2' && redis) redisCpu.hot.push((cpuSeconds(redis.pid) - r0) / Math.max(1, sample.total));
        (hotRaw[id] ??= []).push(sample);
        o.log(
          `fleet hot rep ${r + 1} ${id.padEnd(9)} ${Math.round(sample.rps)} req/s, ${(1e6 / sample.perCoreSecond).toFixed(1)} µs CPU/request, whoami ${sample.whoami}, non-2xx ${sample.non2xx}`,
        );
      }
      // Spread: sessions first used on A (unmeasured), then measured on B.
      for (const mode of modes) {
        const [a, b] = [fleets[mode]![0]!, fleets[mode]![1]!];
        const tokens = await o.kratos.sessions(`${mode}-spread-${r}`, o.spread);
        await runLoad({
          kind: 'http',
          url: a.url + '/',
          connections: o.connections,
          amount: tokens.length,
          tokens: { mode: 'list', tokens },
        });
        const r0 = redis ? cpuSeconds(redis.pid) : 0;
        const sample = await measure(o.ctx, b, {
          kind: 'http',
          url: b.url + '/',
          connections: o.connections,
          amount: tokens.length,
          tokens: { mode: 'list', tokens },
        });
        sample.system = mode;
        if (mode === 'fleet-l2' && redis) redisCpu.spread.push((cpuSeconds(redis.pid) - r0) / Math.max(1, sample.total));
        (spreadRaw[mode] ??= []).push(sample);
        o.log(
          `fleet spread rep ${r + 1} ${mode} on B: ${sample.ok}/${tokens.length} 2xx, whoami ${sample.whoami}, ${(1e6 / sample.perCoreSecond).toFixed(1)} µs CPU/request, p99 ${sample.p99} ms`,
        );
      }
    }
    for (const [id, ss] of Object.entries(hotRaw)) extra.hot[id] = summarize(ss);
    for (const [id, ss] of Object.entries(spreadRaw)) extra.spread[id] = summarize(ss);
    extra.redisCpuUsPerRequest = { hot: median(redisCpu.hot) * 1e6, spread: median(redisCpu.spread) * 1e6 };
    return {
      title: '(fleet) three instances: L1 only vs L1 + L2 on Redis',
      rows: extra.hot,
      raw: Object.fromEntries([
        ...Object.entries(hotRaw).map(([id, ss]) => [`hot:${id}`, ss]),
        ...Object.entries(spreadRaw).map(([id, ss]) => [`spread:${id}`, ss]),
      ]),
      extra: extra as unknown as Record<string, unknown>,
    };
  } finally {
    for (const f of Object.values(fleets)) for (const i of f) await i.stop().catch(() => {});
    await redis?.stop().catch(() => {});
  }
}
