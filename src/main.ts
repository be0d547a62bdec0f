/**
 * `node dist/main.js [--config config/gateway.yaml]`: the gateway process. Configuration
 * errors print `config error: key.path: reason` lines and exit 2; a taken port exits 1;
 * SIGTERM/SIGINT drain and exit 0; a second signal during the drain exits 1 at once.
 * With proxy.workers > 1 this process becomes the cluster primary and forks the workers,
 * which run this same file (src/cluster).
 *
 *   node dist/main.js validate [--config F]   (or --check): validate F and exit, like `nginx -t`
 *   node dist/main.js version                 (or --version): print the version and exit
 */
import cluster from 'node:cluster';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { GatewayConfig } from './config/schema.js';
import { withDerivedKratosDefaults } from './embedded-kratos-defaults.js';
import { attributeToEnv, ConfigError, loadConfigFile } from './config/load.js';
import { policyWarnings } from './config/policy-lint.js';
import { loadAssertionKeys } from './gateway/assertion/keys.js';
import { readRedisPassword } from './gateway/session/store/create-session-store.js';
import { loadProxyTlsPair, proxyTlsFiles } from './gateway/transport/tls-certificates.js';
import { redactUrl } from './config/redact.js';
import { readEmbeddedKratosFile, startGateway, startupFailure } from './start-gateway.js';
import { workerCount } from './cluster/count.js';
import { WORKER_ENV } from './cluster/ipc-protocol.js';
import { startCluster, WorkerStartupError } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { createLogger } from './log.js';
import { NODE_VERSION, VERSION } from './version.js';

const USAGE = 'usage: kratos-gateway [--config PATH] | validate [--config PATH] | --check [--config PATH] | version';

function fail(lines: string[], code: number): never {
  for (const line of lines) process.stderr.write(line + '\n');
  process.exit(code);
}

/**
 * A configuration error (exit 2) or a listener problem (exit 1): printed as startupFailure says,
 * or as a worker reported it (WorkerStartupError); anything else returns.
 */
function failOnStartupError(err: unknown): void {
  const failure = err instanceof WorkerStartupError ? err : startupFailure(err);
  if (failure !== undefined) fail(failure.lines, failure.code);
}

/**
 * Throws what startGateway would reject in the embedded identity server's kratos.yml, read the
 * same way (relative to the gateway file, with the derived defaults), as a ConfigError. Loaded
 * lazily like the server: validating a gateway in front of a real Kratos never loads it.
 */
async function checkEmbeddedKratos(config: GatewayConfig, baseDir: string): Promise<void> {
  const { file, raw } = readEmbeddedKratosFile(config, baseDir);
  const { loadKratosConfig, KratosConfigError } = await import('./identity/index.js');
  try {
    loadKratosConfig(withDerivedKratosDefaults(raw, config), { baseDir: dirname(file) });
  } catch (err) {
    if (err instanceof KratosConfigError) throw new ConfigError([`${file}: ${err.message}`]);
    throw err;
  }
}

async function main(): Promise<void> {
  // A worker forked by our primary: everything it needs comes over the IPC channel.
  if (cluster.isWorker && process.env[WORKER_ENV] === '1') return runWorker();
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: 'config/gateway.yaml' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        check: { type: 'boolean' },
      },
    });
  } catch (err) {
    fail([`kratos-gateway: ${(err as Error).message}`, USAGE], 2);
  }
  const [command, ...extra] = args.positionals;
  if ((command !== undefined && command !== 'version' && command !== 'validate') || extra.length > 0) {
    fail([`kratos-gateway: unknown command "${[command, ...extra].join(' ')}"`, USAGE], 2);
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\nEnvironment overrides: KRATOS_GATEWAY_<KEY>__<SUBKEY>=value (see docs/configuration.md).\n`);
    return;
  }
  if (args.values.version || command === 'version') {
    process.stdout.write(`kratos-gateway ${VERSION} (node ${NODE_VERSION})\n`);
    return;
  }

  const configPath = args.values.config!;
  let loaded;
  try {
    loaded = loadConfigFile(configPath);
  } catch (err) {
    failOnStartupError(err);
    throw err;
  }
  // Everything loadConfigFile checks (schema, routes, trusted proxies, prefixes) has run, and
  // the embedded identity server's kratos.yml when it is enabled; nothing listens.
  if (args.values.check || command === 'validate') {
    const { config, baseDir } = loaded;
    const problems: string[] = [];
    const collect = async (check: () => unknown) => {
      try {
        await check();
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.problems);
      }
    };
    if (config.embedded_kratos.enabled) await collect(() => checkEmbeddedKratos(config, baseDir));
    if (config.identity_assertion.enabled && config.identity_assertion.tokenize_as === undefined)
      await collect(() => loadAssertionKeys(config.identity_assertion, baseDir));
    await collect(() => readRedisPassword(config, baseDir));
    const tlsFiles = proxyTlsFiles(config.proxy.tls, baseDir);
    if (tlsFiles !== undefined) await collect(() => loadProxyTlsPair(tlsFiles));
    if (problems.length > 0) failOnStartupError(attributeToEnv(new ConfigError(problems), loaded.envOrigins));
    // Valid, so not an error; said here too, as this is where an operator looks before deploying.
    for (const warning of policyWarnings(config.routes)) process.stderr.write(`config warning: route policy: ${warning}\n`);
    process.stdout.write(`configuration OK: ${configPath}\n`);
    return;
  }

  let workers = workerCount(loaded.config.proxy.workers);
  const logger = createLogger(loaded.config.log.level, undefined, loaded.config.log.format, workers > 1);
  if (workers > 1 && cluster.isWorker) {
    // Forked by another cluster manager (pm2 cluster mode): it owns the processes.
    logger.warn({ workers }, 'proxy.workers ignored: this process is already a worker of another cluster manager');
    workers = 1;
  }
  let gateway: {
    proxyUrl: string;
    adminUrl: string;
    kratosPublicUrl: string;
    kratosAdminUrl: string | undefined;
    demoUrl: string | undefined;
    reload(trigger?: string): unknown;
    shutdown(): Promise<void>;
    abort?(): void;
  };
  let stopping = false;
  // The embedded identity thread kept failing to restart (identity/server/supervisor.ts logged it,
  // fatal): end the process, as the cluster primary does when its workers keep exiting, so that
  // whatever runs it (an orchestrator, systemd, a container restart policy) starts it again.
  const gaveUp = () => {
    if (stopping) return;
    stopping = true;
    void gateway.shutdown().finally(() => process.exit(1));
  };
  try {
    gateway =
      workers > 1
        ? await startCluster({ config: loaded.config, workers, logger, baseDir: loaded.baseDir, configFile: loaded.path })
        : await startGateway(loaded.config, { logger, baseDir: loaded.baseDir, configFile: loaded.path, onIdentityGaveUp: gaveUp });
  } catch (err) {
    logger.flush();
    failOnStartupError(err instanceof ConfigError ? attributeToEnv(err, loaded.envOrigins) : err);
    throw err;
  }

  const lines = [
    '',
    'kratos-gateway is running.',
    `  Open            ${loaded.config.proxy.public_base_url.replace(/\/$/, '')}/`,
    `  Proxy           ${gateway.proxyUrl}${workers > 1 ? `   (${workers} worker processes)` : ''}`,
    `  Admin/metrics   ${gateway.adminUrl}/metrics   health: ${gateway.adminUrl}/health/ready`,
    `  Kratos public   ${redactUrl(gateway.kratosPublicUrl)}${gateway.kratosAdminUrl ? `   admin: ${gateway.kratosAdminUrl}` : ''}`,
    ...(gateway.demoUrl ? [`  Demo upstream   ${gateway.demoUrl}`] : []),
    '  Stop with Ctrl+C (SIGINT) or SIGTERM.',
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');

  const stop = (signal: string) => {
    if (stopping) {
      // A second signal (Ctrl+C pressed again while keep-alive connections drain) ends the
      // process now, but through process.exit so the buffered log lines are flushed: with a
      // one-shot handler the default action killed the process and dropped them.
      logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
      gateway.abort?.();
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // SIGHUP reloads the configuration file (src/reload.ts) and the proxy listener's certificate; so does a change of either.
  process.on('SIGHUP', () => {
    if (stopping) return;
    try {
      gateway.reload('SIGHUP');
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'configuration reload failed');
    }
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`kratos-gateway: fatal: ${(err as Error).message}\n`);
  process.exit(1);
});
