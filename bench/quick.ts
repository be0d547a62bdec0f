/**
 * `npm run bench:quick`: direct-to-upstream vs through kratos-gateway with one cached
 * session. Upstream, Kratos, gateway and load generator each in their own process.
 *
 *   --duration 5  --connections 64  --warmup 1  --kratos embedded|fake
 *   --no-access-log   (measure with the access log off instead of the production default)
 *   --profile         (write a --cpu-prof profile of the gateway to bench/results/)
 *   --tracing         (tracing on: OTLP/HTTP export to a sink in this process; every request sampled)
 *   --tracing-sampler parentbased_traceidratio --tracing-ratio 0.01   (tracing on with that sampler)
 *   --assertion       (identity_assertion on: every request carries a signed JWT, cached per session)
 *   --policy          (also: the same route under /guarded with a five-condition policy; CPU per request
 *                      with and without it, alternating runs of --duration each, --policy-rounds 2)
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { num, parseArgs } from './lib/args.js';
import { embeddedAvailable, startKratos, type KratosKind } from './lib/kratos.js';
import { runLoad, stopLoad, type LoadResult } from './lib/load.js';
import { BENCH_DIR, cpuSeconds, startNode } from './lib/proc.js';
import { startSystem } from './lib/systems.js';
import { startOtlpSink } from './lib/otlp-sink.js';

const args = parseArgs(process.argv.slice(2));
const duration = num(args, 'duration', 5);
const connections = num(args, 'connections', 64);
const warmup = num(args, 'warmup', 1);
const kratosKind = (args.get('kratos') ?? (embeddedAvailable() ? 'embedded' : 'fake')) as KratosKind;
const accessLog = !args.has('no-access-log');
const profile = args.has('profile');
const tracingSampler = args.get('tracing-sampler') ?? (args.has('tracing') ? 'parentbased_always_on' : undefined);
const assertion = args.has('assertion');
const policy = args.has('policy');
const policyRounds = Math.min(10, Math.max(1, num(args, 'policy-rounds', 2)));

const upstream = await startNode<{ url: string; port: number }>('servers/upstream.ts');
const kratos = await startKratos(kratosKind, 0);
const profileDir = BENCH_DIR + 'results/profiles';
if (profile) mkdirSync(profileDir, { recursive: true });
const sink = tracingSampler === undefined ? undefined : await startOtlpSink();
const gatewayEnv =
  sink === undefined && !assertion && !policy
    ? undefined
    : {
        ...process.env,
        ...(assertion ? { BENCH_IDENTITY_ASSERTION: '1' } : {}),
        ...(policy ? { BENCH_POLICY: '1' } : {}),
        ...(sink === undefined
          ? {}
          : {
              OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
              OTEL_TRACES_SAMPLER: tracingSampler!,
              OTEL_TRACES_SAMPLER_ARG: args.get('tracing-ratio') ?? '1',
            }),
      };
const gw = await startSystem(accessLog ? 'kg' : 'kg-nolog', {
  ...(gatewayEnv ? { gatewayEnv } : {}),
  upstreamUrl: upstream.ready.url,
  upstreamPort: upstream.ready.port,
  kratosUrl: kratos.url,
  kratosPort: kratos.port,
  peerCpus: 1,
  gatewayExecArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
});

try {
  const [token] = await kratos.sessions('quick', 1);
  const check = await fetch(gw.url + '/', { headers: { 'x-session-token': token! } });
  if (check.status !== 200) throw new Error(`the gateway answered ${check.status} for a valid session`);
  // The upstream echoes nothing; the JWKS answering is what shows the assertion is on.
  if (assertion && (await fetch(gw.url + '/.well-known/jwks.json')).status !== 200) throw new Error('--assertion: the gateway has no JWKS');
  await check.arrayBuffer();
  if (policy) {
    const guarded = await fetch(gw.url + '/guarded/', { headers: { 'x-session-token': token! } });
    await guarded.arrayBuffer();
    if (guarded.status !== 200)
      throw new Error(`--policy: the guarded route answered ${guarded.status}; the bench session must satisfy its policy`);
  }

  const spec = { kind: 'http' as const, connections, duration, tokens: { mode: 'fixed' as const, token: token! } };
  // Warm-up is a separate load run so the CPU accounting below covers only the measured phase.
  const warm = (url: string) => (warmup > 0 ? runLoad({ ...spec, url, duration: warmup }) : Promise.resolve());
  await warm(upstream.ready.url + '/');
  const up0 = cpuSeconds(upstream.pid);
  const direct = await runLoad({ ...spec, url: upstream.ready.url + '/' });
  const upstreamUs = ((cpuSeconds(upstream.pid) - up0) * 1e6) / direct.total;
  const floor = await startSystem('floor', {
    upstreamUrl: upstream.ready.url,
    upstreamPort: upstream.ready.port,
    kratosUrl: kratos.url,
    kratosPort: kratos.port,
    peerCpus: 1,
  });
  await warm(floor.url + '/');
  const fl0 = cpuSeconds(floor.pid);
  const floorRun = await runLoad({ ...spec, url: floor.url + '/' });
  const floorUs = ((cpuSeconds(floor.pid) - fl0) * 1e6) / floorRun.total;
  await floor.stop();
  const before = await kratos.whoamiCalls();
  await warm(gw.url + '/');
  const spans0 = sink?.spans ?? 0;
  const gw0 = cpuSeconds(gw.pid);
  const through = await runLoad({ ...spec, url: gw.url + '/' });
  const gatewayUs = ((cpuSeconds(gw.pid) - gw0) * 1e6) / through.total;
  // Spans of the measured phase still in the batch queue arrive within one schedule delay (5 s).
  if (sink) await new Promise((r) => setTimeout(r, 5_500));
  const spans = (sink?.spans ?? 0) - spans0;
  const whoami = (await kratos.whoamiCalls()) - before;
  const rss = gw.rss();

  const line = (name: string, r: LoadResult) =>
    `${name.padEnd(28)} ${Math.round(r.rps).toString().padStart(8)} req/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms   non-2xx ${r.non2xx}  errors ${r.errors}`;
  console.log(
    `bench:quick — ${cpus().length} cores, ${cpus()[0]?.model.trim()}, node ${process.version}; kratos: ${kratos.kind}; autocannon -c ${connections} -d ${duration} (warm-up ${warmup} s), separate process`,
  );
  console.log(line('direct to upstream', direct));
  console.log(line('floor: node:http + undici', floorRun));
  const variant = [
    accessLog ? '' : 'no log',
    assertion ? 'identity assertion' : '',
    tracingSampler === undefined
      ? ''
      : `tracing ${tracingSampler}${tracingSampler.includes('ratio') ? ' ' + (args.get('tracing-ratio') ?? '1') : ''}`,
  ]
    .filter(Boolean)
    .join(', ');
  console.log(line(`through kratos-gateway${variant ? ` (${variant})` : ''}`, through));
  console.log(
    `ratio gateway/direct: ${(through.rps / direct.rps).toFixed(3)}   p99 added: ${(through.p99 - direct.p99).toFixed(2)} ms   whoami calls during the gateway run: ${whoami}   gateway RSS: ${(rss / 1048576).toFixed(1)} MiB`,
  );
  console.log(
    `CPU per request (measured phase; steadier than req/s on a busy machine): upstream ${upstreamUs.toFixed(0)} µs when hit directly; floor proxy (no auth) ${floorUs.toFixed(0)} µs; kratos-gateway ${gatewayUs.toFixed(0)} µs (${(1e6 / gatewayUs).toFixed(0)} req per CPU-second)`,
  );
  if (sink)
    console.log(
      `tracing: ${spans} spans exported for ${through.total} requests (${(spans / through.total).toFixed(2)} per request) in ${sink.exports} OTLP requests`,
    );
  if (through.non2xx > 0 || through.errors > 0) process.exitCode = 1;

  if (policy) {
    // Alternating runs (without, with, without, …) so a neighbour's load drifting over the minute
    // falls on both sides; the first "without" is the run above. Bounded: 2 × policyRounds runs at most.
    const cpu = { plain: { s: (gatewayUs * through.total) / 1e6, n: through.total }, guarded: { s: 0, n: 0 } };
    let failed = 0;
    for (let round = 0; round < policyRounds; round++) {
      for (const which of round === 0 ? (['guarded'] as const) : (['plain', 'guarded'] as const)) {
        const url = gw.url + (which === 'guarded' ? '/guarded/' : '/');
        const c0 = cpuSeconds(gw.pid);
        const r = await runLoad({ ...spec, url });
        cpu[which].s += cpuSeconds(gw.pid) - c0;
        cpu[which].n += r.total;
        failed += r.non2xx + r.errors;
      }
    }
    const plainUs = (cpu.plain.s * 1e6) / cpu.plain.n;
    const guardedUs = (cpu.guarded.s * 1e6) / cpu.guarded.n;
    console.log(
      `policy (5 conditions: ends_with, matches, equals, one_of, authenticated_within), ${policyRounds} alternating round(s): CPU per request without ${plainUs.toFixed(1)} µs, with ${guardedUs.toFixed(1)} µs — ratio ${(guardedUs / plainUs).toFixed(3)}×`,
    );
    if (failed > 0) process.exitCode = 1;
  }
} finally {
  await stopLoad();
  await gw.stop();
  await kratos.stop();
  await upstream.stop();
  await sink?.close();
}
if (profile) console.log(`CPU profile written under ${profileDir} (summarise: node --import tsx bench/profile-summary.ts <file>)`);
