/**
 * `npm run bench:workers` (data-plane worker processes): req/s, latency and CPU per request of kratos-gateway
 * with proxy.workers 1, 2 and `auto` (bench/lib/workers.ts says how it measures).
 *
 *   --duration 5  --warmup 1  --connections 64  --workers 1,2,auto  --kratos embedded|fake
 */
import { availableParallelism, cpus } from 'node:os';
import { num, parseArgs } from './lib/args.js';
import { embeddedAvailable, startKratos, type KratosKind } from './lib/kratos.js';
import { stopLoad } from './lib/load.js';
import { startNode } from './lib/proc.js';
import { measureWorkers, workersTable } from './lib/workers.js';

const args = parseArgs(process.argv.slice(2));
const duration = num(args, 'duration', 5);
const warmup = num(args, 'warmup', 1);
const connections = num(args, 'connections', 64);
const settings = (args.get('workers') ?? '1,2,auto').split(',').map((w) => (w === 'auto' ? 'auto' : Number(w)));
const kratosKind = (args.get('kratos') ?? (embeddedAvailable() ? 'embedded' : 'fake')) as KratosKind;

const upstream = await startNode<{ url: string; port: number }>('servers/upstream.ts');
const kratos = await startKratos(kratosKind, 0);
try {
  const [token] = await kratos.sessions('workers', 1);
  const rows = await measureWorkers(
    { upstreamUrl: upstream.ready.url, kratosUrl: kratos.url, token: token!, duration, warmup, connections },
    settings,
  );
  console.log(
    `bench:workers — ${cpus().length} cores (${availableParallelism()} available), ${cpus()[0]?.model.trim()}, node ${process.version}; kratos: ${kratos.kind}; autocannon -c ${connections} -d ${duration} (warm-up ${warmup} s), one cached session, access log on`,
  );
  console.log('');
  for (const line of workersTable(rows)) console.log(line);
  if (rows.some((r) => r.result.non2xx > 0 || r.result.errors > 0)) process.exitCode = 1;
} finally {
  await stopLoad();
  await kratos.stop();
  await upstream.stop();
}
