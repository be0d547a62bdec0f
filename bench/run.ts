/**
 * `npm run bench`: kratos-gateway against direct, a naive baseline, nginx auth_request (with
 * and without a cache) and Caddy forward_auth, in one run on one machine. See bench/README.md.
 *
 *   --duration 5 --warmup 1 --reps 3 --connections 64
 *   --scenarios a,d,c,e,b,f,h,g,ext-authz,w,fleet --systems direct,floor,kg,kg-nocache,baseline,nginx-cache,nginx,caddy
 *   --kratos embedded|fake           --kratos-delay-ms 0
 *   --peer-cpus 1                    (nginx worker_processes, Caddy GOMAXPROCS)
 *   --quiet-wait 1                   (seconds to wait for an idle machine before each measurement)
 *   --access-log-off-too             (also measure kratos-gateway with its access log off in (a))
 *   --profile                        (CPU-profile kratos-gateway during the first scenario listed)
 *   --no-install                     (do not apt-get install nginx-light / caddy when missing)
 *   --grpc-connections 2             (the ext-authz and grpc scenarios: HTTP/2 connections their gRPC calls share)
 *   --fleet-trials 60 --fleet-credentials 20 --fleet-burst 300 --fleet-spread 500   (the fleet scenario, bench/lib/fleet.ts)
 *   --scenarios memory,soak          (bench/lib/memory-bench.ts: written to bench/results/memory.md, not latest.md)
 *   --scenarios grpc                 (bench/lib/grpc-bench.ts; alone, written to bench/results/grpc.md, not latest.md)
 *   --grpc-concurrency 64 --grpc-upstream http2|grpc-js --grpc-hol-delay-ms 500 --grpc-hol-rounds 10   (the grpc scenario)
 *   --memory-sessions 100000,1000000 --soak-seconds 150 --soak-ttl-cap-ms 30000 --soak-new-per-second 513
 *   --soak-live-seconds 30 --soak-connections 32 --soak-sample-seconds 5
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { num, parseArgs } from './lib/args.js';
import { embeddedAvailable, startKratos, type Kratos, type KratosKind } from './lib/kratos.js';
import { measure, median, summarize, type MeasureContext, type Sample } from './lib/measure.js';
import { BENCH_DIR, sleep, startNode } from './lib/proc.js';
import { renderMarkdown, type Report, type ScenarioReport } from './lib/report.js';
import { hasCommand, peerVersions, startSystem, SYSTEM_LABELS, type RunningSystem, type SystemEnv, type SystemId } from './lib/systems.js';
import { runLoad, stopLoad } from './lib/load.js';
import { measureWorkers, workersTable } from './lib/workers.js';
import { FLEET_LABELS, fleetScenario } from './lib/fleet.js';
import { extAuthzScenario } from './lib/ext-authz.js';
import { MEMORY_SCENARIOS, memoryPerCachedSession, runMemoryScenarios } from './lib/memory-bench.js';
import { grpcScenario } from './lib/grpc-bench.js';

const args = parseArgs(process.argv.slice(2));
const duration = num(args, 'duration', 5);
const warmup = num(args, 'warmup', 1);
const reps = Math.max(1, num(args, 'reps', 3));
const connections = num(args, 'connections', 64);
const delayMs = num(args, 'kratos-delay-ms', 0);
const peerCpus = Math.max(1, num(args, 'peer-cpus', 1));
const quietWaitMs = num(args, 'quiet-wait', 1) * 1000;
const scenarios = (args.get('scenarios') ?? 'a,d,c,e,b,f,h,g,ext-authz,w,fleet').split(',').map((s) => s.trim());
// The grpc scenario starts its own systems (h2c in front of a gRPC server) and checks them itself.
const grpcOnly = scenarios.every((sc) => sc === 'grpc');
const kratosKind = (args.get('kratos') ?? (embeddedAvailable() ? 'embedded' : 'fake')) as KratosKind;
const notes: string[] = [];
const started = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

// The memory scenarios start what they need themselves and write bench/results/memory.md; the
// rest of the run (and latest.md) is only for the other scenarios.
const memoryScenarios = scenarios.filter((s) => MEMORY_SCENARIOS.includes(s));
if (memoryScenarios.length > 0) {
  try {
    await runMemoryScenarios(memoryScenarios, args, log);
  } finally {
    await stopLoad();
  }
  if (memoryScenarios.length === scenarios.length) process.exit(0);
  scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => !MEMORY_SCENARIOS.includes(s)));
}

// ---- peers: install from Debian when missing -------------------------------------------
function ensurePeer(cmd: string, pkg: string): boolean {
  if (hasCommand(cmd)) return true;
  if (args.has('no-install')) {
    notes.push(`${cmd} is not installed (--no-install): skipped.`);
    return false;
  }
  const policy = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  if (policy.status !== 0 || /Candidate: \(none\)/.test(policy.stdout) || !/Candidate:/.test(policy.stdout)) {
    notes.push(`${pkg} is not installable from this machine's apt sources: ${cmd} skipped.`);
    return false;
  }
  log(`installing ${pkg} from Debian (apt-get install -y -qq ${pkg})`);
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    notes.push(`apt-get install ${pkg} failed (${(err as Error).message.split('\n')[0]}): ${cmd} skipped.`);
    return false;
  }
  return hasCommand(cmd);
}

const requested = (args.get('systems') ?? 'direct,floor,kg,kg-nocache,baseline,nginx-cache,nginx,caddy')
  .split(',')
  .map((s) => s.trim()) as SystemId[];
if (args.has('access-log-off-too') && !requested.includes('kg-nolog')) requested.splice(requested.indexOf('kg') + 1, 0, 'kg-nolog');
const haveNginx = requested.some((s) => s.startsWith('nginx')) ? ensurePeer('nginx', 'nginx-light') : false;
const haveCaddy = requested.includes('caddy') ? ensurePeer('caddy', 'caddy') : false;
const systemIds = requested.filter((s) => (s.startsWith('nginx') ? haveNginx : s === 'caddy' ? haveCaddy : s in SYSTEM_LABELS));

// ---- shared servers ---------------------------------------------------------------------
log(
  `kratos: ${kratosKind}${delayMs ? ` behind a ${delayMs} ms delay` : ''}; systems: ${systemIds.join(', ')}; scenarios: ${scenarios.join(',')}`,
);
const upstream = await startNode<{ url: string; port: number }>('servers/upstream.ts');
const kratos = await startKratos(kratosKind, delayMs);
const env: SystemEnv = {
  upstreamUrl: upstream.ready.url,
  upstreamPort: upstream.ready.port,
  kratosUrl: kratos.url,
  kratosPort: kratos.port,
  peerCpus,
};
const ctx: MeasureContext = { kratos, helperPids: [upstream.pid, kratos.pid], quietWaitMs };
const profileDir = BENCH_DIR + 'results/profiles';

const running = new Map<SystemId, RunningSystem>();
let profileNext = args.has('profile');
async function system(id: SystemId): Promise<RunningSystem> {
  let s = running.get(id);
  if (s === undefined) {
    const profiled = id === 'kg' && profileNext;
    if (profiled) profileNext = false;
    s = await startSystem(id, profiled ? { ...env, gatewayExecArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : env);
    running.set(id, s);
  }
  return s;
}
async function stopAll(): Promise<void> {
  for (const s of running.values()) await s.stop().catch(() => {});
  running.clear();
}

// Interrupted: stop everything this run started (nginx and Caddy would otherwise outlive it).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    void (async () => {
      await stopLoad().catch(() => {});
      await stopAll();
      await kratos.stop().catch(() => {});
      await upstream.stop().catch(() => {});
      process.exit(130);
    })();
  });
}

async function get(url: string, token: string): Promise<number> {
  const r = await fetch(url, { headers: { 'x-session-token': token } });
  await r.arrayBuffer();
  return r.status;
}

const report: Report = {
  date: new Date().toISOString(),
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    ...peerVersions(),
  },
  settings: {
    duration,
    warmup,
    reps,
    connections,
    kratos: kratosKind,
    kratosDelayMs: delayMs,
    peerCpus,
    quietWaitMs,
    loadGenerator: grpcOnly ? '@grpc/grpc-js clients (separate process)' : 'autocannon 9.0.0 (separate process)',
  },
  systems: Object.fromEntries(systemIds.map((id) => [id, SYSTEM_LABELS[id]])),
  scenarios: {},
  notes,
};

const hot = (await kratos.sessions('hot', 1))[0]!;
const peers = systemIds.filter((s) => s !== 'direct' && s !== 'floor');
if (process.env.BENCH_DEBUG) console.log('hot token', hot);

// A fresh Node process needs a few seconds of load before V8 has optimised its hot path:
// the first measurement of each system gets a longer warm-up.
const warmedUp = new Set<SystemId>();
function warmupFor(id: SystemId): number {
  if (warmedUp.has(id)) return warmup;
  warmedUp.add(id);
  return Math.max(warmup, 3);
}

function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

async function steadyScenario(
  key: string,
  title: string,
  ids: SystemId[],
  tokens: () => import('./lib/load.js').TokenPlan,
  expectOk: boolean,
  warm?: (s: RunningSystem) => Promise<unknown>,
): Promise<ScenarioReport> {
  const raw: Record<string, Sample[]> = {};
  for (let r = 0; r < reps; r++) {
    for (const id of rotate(ids, r)) {
      const s = await system(id);
      const plan = tokens();
      await (warm ? warm(s) : runLoad({ kind: 'http', url: s.url + '/', connections, duration: warmupFor(id), tokens: plan }));
      const sample = await measure(ctx, s, { kind: 'http', url: s.url + '/', connections, duration, tokens: plan });
      (raw[id] ??= []).push(sample);
      log(
        `${key} rep ${r + 1} ${id.padEnd(12)} ${Math.round(sample.rps)} req/s p99 ${sample.p99} ms whoami ${sample.whoami} ${expectOk ? 'non-2xx' : '2xx'} ${expectOk ? sample.non2xx : sample.ok} other-load ${(sample.otherBusy * 100).toFixed(0)}%`,
      );
    }
  }
  return { title, rows: Object.fromEntries(Object.entries(raw).map(([id, ss]) => [id, summarize(ss)])), raw, extra: {} };
}

try {
  // Sanity: every system lets a valid session through and refuses an invalid one.
  for (const id of grpcOnly ? [] : systemIds) {
    const s = await system(id);
    const ok = await get(s.url + '/', hot);
    const bad = id === 'direct' || id === 'floor' ? 401 : await get(s.url + '/', 'invalid.sanity');
    if (ok !== 200 || bad !== 401) throw new Error(`${id}: valid session → ${ok}, invalid → ${bad} (expected 200 / 401)`);
  }
  if (!grpcOnly) log('all systems answer 200 for a valid session and 401 for an invalid one');

  for (const sc of scenarios) {
    const t0 = Date.now();
    if (sc === 'a') {
      const ids = systemIds;
      const rep = await steadyScenario('a', '(a) one hot session', ids, () => ({ mode: 'fixed', token: hot }), true);
      // p99 added over direct at half of the gateway's peak rate.
      const kgRow = rep.rows.kg;
      if (kgRow && systemIds.includes('direct')) {
        const rate = Math.round(kgRow.rps / 2);
        const direct = await system('direct');
        const kg = await system('kg');
        const d = await measure(ctx, direct, {
          kind: 'http',
          url: direct.url + '/',
          connections,
          duration,
          rate,
          tokens: { mode: 'fixed', token: hot },
        });
        const g = await measure(ctx, kg, {
          kind: 'http',
          url: kg.url + '/',
          connections,
          duration,
          rate,
          tokens: { mode: 'fixed', token: hot },
        });
        rep.extra.halfPeak = {
          rate,
          directP50: d.p50,
          directP99: d.p99,
          kgP50: g.p50,
          kgP99: g.p99,
          p99Added: g.p99 - d.p99,
          kgRps: g.rps,
        };
        log(`a half-peak ${rate} req/s: direct p99 ${d.p99} ms, kratos-gateway p99 ${g.p99} ms`);
      }
      report.scenarios.a = rep;
    } else if (sc === 'd') {
      // 500 concurrent requests carrying one never-seen token.
      const raw: Record<string, Sample[]> = {};
      for (let r = 0; r < reps; r++) {
        const token = (await kratos.sessions(`d${r}`, 1))[0]!;
        for (const id of rotate(peers, r)) {
          const s = await system(id);
          const sample = await measure(ctx, s, {
            kind: 'http',
            url: s.url + '/',
            connections: 500,
            amount: 500,
            tokens: { mode: 'fixed', token },
          });
          (raw[id] ??= []).push(sample);
          log(
            `d rep ${r + 1} ${id.padEnd(12)} whoami ${sample.whoami}${sample.gatewayWhoami !== undefined ? ` (gateway metric ${sample.gatewayWhoami})` : ''} 2xx ${sample.ok}/500 p99 ${sample.p99} ms`,
          );
        }
      }
      report.scenarios.d = {
        title: '(d) 500 concurrent requests, one new token',
        rows: Object.fromEntries(Object.entries(raw).map(([id, ss]) => [id, summarize(ss)])),
        raw,
        extra: {},
      };
    } else if (sc === 'c') {
      // Cold storm: 2,000 never-seen valid tokens, each sent once (64 connections).
      const raw: Record<string, Sample[]> = {};
      for (let r = 0; r < reps; r++) {
        const tokens = await kratos.sessions(`c${r}`, 2000);
        for (const id of rotate(peers, r)) {
          const s = await system(id);
          const sample = await measure(ctx, s, {
            kind: 'http',
            url: s.url + '/',
            connections,
            amount: 2000,
            tokens: { mode: 'list', tokens },
          });
          (raw[id] ??= []).push(sample);
          log(
            `c rep ${r + 1} ${id.padEnd(12)} whoami ${sample.whoami} 2xx ${sample.ok}/2000 in ${sample.seconds.toFixed(2)} s p99 ${sample.p99} ms`,
          );
        }
      }
      report.scenarios.c = {
        title: '(c) cold storm: 2,000 never-seen valid tokens',
        rows: Object.fromEntries(Object.entries(raw).map(([id, ss]) => [id, summarize(ss)])),
        raw,
        extra: {},
      };
    } else if (sc === 'e') {
      let n = 0;
      const rep = await steadyScenario(
        'e',
        '(e) invalid tokens at full rate (a new one every request)',
        peers,
        () => ({ mode: 'unique', prefix: `invalid.e${n++}.` }),
        false,
      );
      report.scenarios.e = rep;
    } else if (sc === 'b') {
      log('b: minting 10,000 sessions');
      const tokens = await kratos.sessions('b', 10_000);
      // Warm-up before every measurement: each of the 10,000 sessions once, so no entry has
      // reached a cache's 60 s lifetime when the measured run starts.
      // Systems without a cache get the usual time-based warm-up.
      const cached = new Set<SystemId>(['kg', 'kg-nolog', 'baseline', 'nginx-cache']);
      const warmAll = (s: RunningSystem) =>
        cached.has(s.id)
          ? runLoad({ kind: 'http', url: s.url + '/', connections, amount: tokens.length, tokens: { mode: 'list', tokens } })
          : runLoad({ kind: 'http', url: s.url + '/', connections, duration: warmup, tokens: { mode: 'list', tokens } });
      const rep = await steadyScenario(
        'b',
        '(b) 10,000 distinct warm sessions',
        systemIds,
        () => ({ mode: 'list', tokens }),
        true,
        warmAll,
      );
      // Control: the same load-generator path (a header per request) with one session.
      const control: Sample[] = [];
      if (running.has('kg')) {
        for (let r = 0; r < reps; r++) {
          const s = await system('kg');
          await runLoad({ kind: 'http', url: s.url + '/', connections, duration: warmup, tokens: { mode: 'list', tokens: [hot] } });
          control.push(
            await measure(ctx, s, { kind: 'http', url: s.url + '/', connections, duration, tokens: { mode: 'list', tokens: [hot] } }),
          );
        }
        rep.extra.kgOneSessionSameGenerator = summarize(control);
      }
      report.scenarios.b = rep;
    } else if (sc === 'f') {
      // Logout → first 401 for that credential.
      const trials = 10;
      const rows: ScenarioReport['rows'] = {};
      const raw: Record<string, Sample[]> = {};
      const fExtra: Record<string, unknown> = {};
      for (const id of peers) {
        const s = await system(id);
        const viaMount = id.startsWith('kg');
        const times: number[] = [];
        let firstRejected = 0;
        let stale = 0;
        const tokens = await kratos.sessions(`f-${id}`, trials * reps);
        let tried = 0;
        for (const token of tokens) {
          // A system that keeps serving revoked sessions by design (a TTL cache without purge)
          // shows it on every trial: stop after three, 2 s each.
          if (tried === 3 && stale === 3) break;
          tried++;
          if ((await get(s.url + '/', token)) !== 200) throw new Error(`f: ${id} refused a fresh session`);
          await get(s.url + '/', token); // now cached where there is a cache
          if (viaMount) {
            const r = await fetch(s.url + '/.ory/kratos/public/sessions', {
              method: 'DELETE',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ session_token: token }),
            });
            await r.arrayBuffer();
            if (r.status >= 300) throw new Error(`f: logout through the mount answered ${r.status}`);
          } else {
            await kratos.revoke(token);
          }
          const t = performance.now();
          let first = true;
          let rejectedAt: number | undefined;
          while (performance.now() - t < 2_000) {
            const status = await get(s.url + '/', token);
            if (status === 401) {
              rejectedAt = performance.now() - t;
              if (first) firstRejected++;
              break;
            }
            first = false;
            await sleep(1);
          }
          if (rejectedAt === undefined) stale++;
          else times.push(rejectedAt);
        }
        fExtra[id] = {
          trials: tried,
          firstRequestRejected: firstRejected,
          staleAfter2s: stale,
          medianMs: median(times),
          maxMs: times.length ? Math.max(...times) : null,
          logoutVia: viaMount ? 'the gateway mount (DELETE /sessions)' : 'Kratos directly',
        };
        log(
          `f ${id.padEnd(12)} first request after logout rejected ${firstRejected}/${tried}, still served after 2 s: ${stale}, median ${median(times).toFixed(2)} ms`,
        );
      }
      report.scenarios.f = { title: '(f) logout → first 401 for that credential', rows, raw, extra: fExtra };
    } else if (sc === 'h') {
      // Memory per cached session (bench/lib/memory-bench.ts), fake Kratos: minting 100k real sessions takes too long.
      const fake = kratos.kind === 'fake' && delayMs === 0 ? kratos : await startKratos('fake', 0);
      const extra = await memoryPerCachedSession(
        (['kg', 'baseline'] as SystemId[]).filter((id) => systemIds.includes(id)),
        { ...env, kratosUrl: fake.url, kratosPort: fake.port },
        connections,
        log,
      );
      if (fake !== kratos) await fake.stop();
      report.scenarios.h = { title: '(h) memory per cached session, 100,000 sessions offered', rows: {}, raw: {}, extra };
    } else if (sc === 'g') {
      const raw: Record<string, Sample[]> = {};
      const wsConnections = Math.min(connections, 32);
      for (let r = 0; r < reps; r++) {
        for (const id of rotate(
          systemIds.filter((x) => x !== 'floor'),
          r,
        )) {
          const s = await system(id);
          const url = s.url.replace(/^http/, 'ws') + '/ws';
          const sample = await measure(ctx, s, { kind: 'ws', url, connections: wsConnections, duration, warmup, token: hot });
          (raw[id] ??= []).push(sample);
          log(
            `g rep ${r + 1} ${id.padEnd(12)} ${Math.round(sample.rps)} handshakes+echo/s p99 ${sample.p99.toFixed(1)} ms errors ${sample.errors} status ${JSON.stringify(sample.status)}`,
          );
        }
      }
      report.scenarios.g = {
        title: `(g) WebSocket handshake + one echo per connection (${wsConnections} concurrent)`,
        rows: Object.fromEntries(Object.entries(raw).map(([id, ss]) => [id, summarize(ss)])),
        raw,
        extra: {},
      };
    } else if (sc === 'w') {
      // proxy.workers 1, 2, auto: the real process tree (src/main.ts), one run each (bench/lib/workers.ts).
      await stopAll();
      const rows = await measureWorkers(
        { upstreamUrl: upstream.ready.url, kratosUrl: kratos.url, token: hot, duration, warmup: Math.max(warmup, 3), connections },
        [1, 2, 'auto'],
      );
      for (const r of rows) log(`w workers=${r.workers}: ${Math.round(r.result.rps)} req/s, ${r.gatewayUsPerReq.toFixed(0)} µs CPU/req`);
      report.scenarios.w = {
        title: '(w) proxy.workers: 1, 2, auto (one hot session)',
        rows: {},
        raw: {},
        extra: { rows, table: workersTable(rows) },
      };
    } else if (sc === 'ext-authz') {
      // The HTTP decision API and the ext_authz gRPC service of the same kratos-gateway, alternating.
      if (!systemIds.includes('kg')) {
        notes.push('scenario ext-authz skipped: it measures the system kg, which --systems leaves out');
        continue;
      }
      report.scenarios['ext-authz'] = await extAuthzScenario({
        ctx,
        kg: await system('kg'),
        token: hot,
        duration,
        warmup: warmupFor('kg'),
        reps,
        connections,
        grpcConnections: Math.max(1, num(args, 'grpc-connections', 2)),
        log,
      });
    } else if (sc === 'fleet') {
      Object.assign(report.systems, FLEET_LABELS);
      report.scenarios.fleet = await fleetScenario({
        ctx,
        env,
        kratos,
        duration,
        warmup,
        reps,
        connections,
        single: systemIds.includes('kg') ? () => system('kg') : undefined,
        log,
        trials: num(args, 'fleet-trials', 60),
        credentials: Math.max(1, num(args, 'fleet-credentials', 20)),
        burstSize: Math.max(3, num(args, 'fleet-burst', 300)),
        spread: Math.max(1, num(args, 'fleet-spread', 500)),
      });
    } else if (sc === 'grpc') {
      report.scenarios.grpc = await grpcScenario({
        ctx,
        // --profile with grpc listed first: kratos-gateway's profile covers this scenario (written when it stops).
        env: args.has('profile') && sc === scenarios[0] ? { ...env, gatewayExecArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : env,
        systems: requested.filter((id) => (id.startsWith('nginx') ? haveNginx : id === 'caddy' ? haveCaddy : true)),
        token: hot,
        duration,
        warmup,
        reps,
        connections: Math.max(1, num(args, 'grpc-connections', 2)),
        concurrency: Math.max(1, num(args, 'grpc-concurrency', connections)),
        upstreamImpl: args.get('grpc-upstream') === 'grpc-js' ? 'grpc-js' : 'http2',
        hol: { concurrent: 100, slowDelayMs: num(args, 'grpc-hol-delay-ms', 500), rounds: Math.max(1, num(args, 'grpc-hol-rounds', 10)) },
        log,
        notes,
      });
    } else {
      notes.push(`unknown scenario "${sc}" skipped`);
    }
    log(`scenario ${sc} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // --profile covers kratos-gateway during the first scenario only; the profile is written when it exits.
    if (args.has('profile') && sc === scenarios[0] && running.has('kg')) {
      await running.get('kg')!.stop();
      running.delete('kg');
      log(`CPU profile of kratos-gateway during (${sc}) written under ${profileDir}`);
    }
  }
} finally {
  await stopLoad();
  await stopAll();
  await kratos.stop();
  await upstream.stop();
}

report.machine.loadavgAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
report.totalSeconds = Math.round((Date.now() - started) / 1000);
mkdirSync(BENCH_DIR + 'results', { recursive: true });
const stamp = report.date.replace(/[:.]/g, '-');
writeFileSync(`${BENCH_DIR}results/${stamp}.json`, JSON.stringify(report, null, 2));
const md = renderMarkdown(report);
// A grpc-only run does not replace the last full run's latest.md.
const mdFile = grpcOnly ? 'grpc.md' : 'latest.md';
writeFileSync(`${BENCH_DIR}results/${mdFile}`, md);
console.log('\n' + md);
log(`wrote bench/results/${stamp}.json and bench/results/${mdFile}`);
void (kratos as Kratos);
