/**
 * kratos-gateway with the embedded identity server, in one process, for
 * bench/identity-isolation.ts. `node --import tsx bench/servers/identity-gateway.ts <mode> <upstream url>`
 *
 * - `worker`: what startGateway does now: the identity server on a worker thread.
 * - `inprocess`: the identity server started with startIdentityServer on the gateway's own
 *   event loop and the gateway pointed at it, which is how startGateway ran it before the identity server got its own thread.
 *
 * Both use the same kratos.yml (argon2 at the embedded server's defaults, 19 MiB / 2
 * iterations) and the production logging defaults (access log on). Loopback only.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { startGateway } from '../../src/start-gateway.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { serveIpc } from '../lib/proc.js';

const mode = process.argv[2];
const upstream = process.argv[3];
if ((mode !== 'worker' && mode !== 'inprocess') || !upstream) throw new Error('usage: identity-gateway.ts worker|inprocess <upstream url>');

const schema = pathToFileURL(fileURLToPath(new URL('../../config/identity.schema.json', import.meta.url))).href;
const kratosConfig = {
  version: 'v0.6.3-alpha.1',
  identity: { default_schema_url: schema },
  selfservice: {
    default_browser_return_url: 'http://127.0.0.1/',
    flows: {
      registration: { lifespan: '1h', after: { password: { hooks: [{ hook: 'session' }] } } },
      verification: { enabled: false },
      recovery: { enabled: false },
    },
  },
  session: { lifespan: '24h' },
  secrets: { cookie: ['bench-secret-bench-secret-bench-secret'] },
};

// Production logging: JSON lines to stdout (the harness discards them), access log on.
const logger = createLogger('info');
const base = {
  proxy: { listen: { host: '127.0.0.1', port: 0 }, public_base_url: 'http://127.0.0.1' },
  admin: { listen: { host: '127.0.0.1', port: 0 } },
  ui: { enabled: false },
  routes: [
    { name: 'public', match: { path_prefix: '/public' }, upstream, auth: 'anonymous', strip_prefix: '/public' },
    { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' },
  ],
};

let closeIdentity: () => Promise<void> = async () => {};
let raw: Record<string, unknown>;
if (mode === 'worker') {
  const dir = mkdtempSync(join(tmpdir(), 'bench-isolation-'));
  const file = join(dir, 'kratos.yml');
  writeFileSync(file, stringify(kratosConfig));
  raw = {
    ...base,
    embedded_kratos: {
      enabled: true,
      config_file: file,
      dsn: 'memory',
      public_listen: { host: '127.0.0.1', port: 0 },
      admin_listen: { host: '127.0.0.1', port: 0 },
    },
  };
} else {
  const { startIdentityServer } = await import('../../src/identity/index.js');
  const identity = await startIdentityServer({
    config: kratosConfig,
    publicListen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    dsn: 'memory',
    logger: logger.child({ component: 'identity' }),
  });
  closeIdentity = () => identity.close();
  raw = { ...base, kratos: { public_url: identity.publicUrl } };
}

const gw = await startGateway(parseConfig(raw), { logger });
process.on('SIGTERM', () => {
  void gw
    .shutdown()
    .then(closeIdentity)
    .finally(() => process.exit(0));
});
// The data plane's event-loop delay, the quantity the isolation is about: 'eld-reset' at the
// start of a phase, 'eld' at its end (milliseconds).
const eld = monitorEventLoopDelay({ resolution: 5 });
eld.enable();
serveIpc(
  { url: gw.proxyUrl, mode, identityThread: gw.identityWorker !== undefined },
  {
    'eld-reset': () => {
      eld.reset();
      return {};
    },
    eld: () => ({ p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 }),
  },
);
