/**
 * Assembles a running gateway from a validated configuration: the embedded identity server
 * and demo upstream when enabled, the data plane, the control plane and the admin listener.
 */
import { createServer, type Server } from 'node:http';
import type { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { GatewayConfig } from './config/schema.js';
import { ConfigError } from './config/errors.js';
import { redactUrl } from './config/redact.js';
import { createLogger, type Logger } from './log.js';
import { GatewayResources } from './gateway/gateway-resources.js';
import { readRedisPassword } from './gateway/session/store/create-session-store.js';
import { configHash } from './gateway/config-snapshot.js';
import { prepareAssertionKeys } from './gateway/assertion/keys.js';
import { JWKS_PATH } from './gateway/assertion/jwks.js';
import { ConfigReloader, type ReloadOutcome } from './reload.js';
import { policyWarnings } from './config/policy-lint.js';
import { createProxyHandler } from './gateway/proxy-handler.js';
import { createControlPlane, type ControlMount } from './control-plane.js';
import { selfServiceUiPerKratos } from './ui/per-kratos.js';
import { createAdminHandler, type AdminClusterHooks } from './admin/admin-app.js';
import type { InvalidationChannel } from './gateway/session/store/invalidation-channel.js';
import { createAdminHttp2 } from './admin/admin-http2.js';
import { createH2cDispatcher } from './http/h2c-dispatch.js';
import { reportIdentityServer } from './admin/kratos-health.js';
import type { RestartPolicy, SupervisedIdentityServer } from './identity/index.js';
import { ADMIN_HEADERS_TIMEOUT_MS, ADMIN_REQUEST_TIMEOUT_MS, closeGracefully, enforcedTimeouts, listen, ListenError } from './listen.js';
import { createTlsDispatcher, type TlsFront } from './http/tls-dispatch.js';
import type { CertificateReloader } from './http/certificate-reloader.js';
import { loadProxyTlsPair, proxyTlsFiles, reloadProxyCertificates } from './gateway/transport/tls-certificates.js';
import { h2cFront, proxyHttp2 } from './http/proxy-listener.js';
import { withDerivedKratosDefaults } from './embedded-kratos-defaults.js';
import { startTracing, type Env } from './observability/tracing/index.js';

export interface StartOptions {
  logger?: Logger;
  /** Directory that relative paths in the configuration resolve against. */
  baseDir?: string;
  /** Where the `OTEL_*` tracing settings come from (default: process.env). */
  tracingEnv?: Env;
  /**
   * The file `input` was loaded from: when given, a change of it (debounced) and reload()
   * validate it and swap the configuration snapshot (src/reload.ts).
   */
  configFile?: string;
  /** The environment the file's overrides come from on reload (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Which listeners this process runs. 'all' (default): everything, one process. With
   * proxy.workers > 1 (src/cluster) the primary runs the embedded servers and the admin
   * listener, and each worker the proxy listener (data plane, Kratos mount, UI).
   */
  role?: GatewayRole;
  /** A worker: the Kratos public URL its primary resolved (the embedded identity server's real URL). */
  kratosPublicUrl?: string;
  /** The session cache's fan-out to and from the other processes of this gateway (cluster IPC). */
  invalidationBus?: InvalidationChannel;
  /** A primary: what its admin listener answers for the workers (metrics, readiness, purges). */
  adminCluster?: AdminClusterHooks;
  /** Told of every applied reload, with the configuration as loaded (a primary passes it on to its workers). */
  onReloadApplied?: (outcome: ReloadOutcome, trigger: string, loaded: GatewayConfig) => void;
  /** How a crashed embedded identity thread is restarted (default: the supervisor's DEFAULT_RESTART_POLICY). */
  identityRestartPolicy?: RestartPolicy;
  /**
   * Called once when restarting the embedded identity thread kept failing and was given up: the
   * process should shut down and exit 1 (main.ts, the cluster primary). Liveness fails either way.
   */
  onIdentityGaveUp?: () => void;
}

export type GatewayRole = 'all' | 'primary' | 'worker';

export interface RunningGateway {
  /** '' in a cluster primary, which has no proxy listener. */
  proxyUrl: string;
  /** '' in a cluster worker, which has no admin listener. */
  adminUrl: string;
  kratosPublicUrl: string;
  kratosAdminUrl: string | undefined;
  demoUrl: string | undefined;
  /** The thread the embedded identity server runs on now, when it is enabled (undefined while it is being restarted). */
  readonly identityWorker: Worker | undefined;
  core: GatewayResources;
  /**
   * Loads configFile again and applies it (SIGHUP), or applies `loaded` (a cluster worker: the
   * configuration its primary applied); undefined when no configFile was given.
   */
  reload(trigger?: string, loaded?: GatewayConfig): ReloadOutcome | undefined;
  /**
   * Reads the proxy listener's certificate files again (proxy.tls); reload() without `loaded`
   * does it too. A cluster worker is told to by its primary on SIGHUP.
   */
  reloadCertificates(trigger: string): void;
  /** Readiness false, stop accepting, drain within the grace period, close everything. */
  shutdown(): Promise<void>;
}

/** A listener of the embedded servers failed: name the configuration key, like listen() does. */
function portTaken(err: unknown, listeners: Record<string, { host: string; port: number }>): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e.code !== 'EADDRINUSE') return err;
  for (const [key, l] of Object.entries(listeners)) {
    if (l.port === e.port)
      return new ListenError(`${key}: ${l.host}:${l.port} is already in use (choose another port in the configuration)`);
  }
  return err;
}

/**
 * What the process prints and exits with when startGateway fails: a taken port or another
 * listener problem exits 1, a configuration error exits 2, each with its one-line message.
 * Undefined for anything else (a bug: the caller reports it as fatal).
 */
export function startupFailure(err: unknown): { lines: string[]; code: 1 | 2 } | undefined {
  if (err instanceof ListenError) return { lines: [`kratos-gateway: ${err.message}`], code: 1 };
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE')
    return {
      lines: [`kratos-gateway: ${e.address ?? ''}:${e.port ?? ''} is already in use (choose another port in the configuration)`],
      code: 1,
    };
  if (err instanceof ConfigError) return { lines: err.problems.map((p) => `config error: ${p}`), code: 2 };
  if (err instanceof Error && err.name.endsWith('ConfigError')) return { lines: [`config error: ${err.message}`], code: 2 };
  return undefined;
}

/** The embedded identity server's kratos.yml (relative to baseDir), parsed; an unreadable one is a configuration error. */
export function readEmbeddedKratosFile(config: GatewayConfig, baseDir: string): { file: string; raw: unknown } {
  const file = resolve(baseDir, config.embedded_kratos.config_file!);
  try {
    return { file, raw: parseYaml(readFileSync(file, 'utf8')) ?? {} };
  } catch (err) {
    throw new ConfigError([`embedded_kratos.config_file: cannot read ${file} (${(err as Error).message.split('\n')[0]})`]);
  }
}

/** The fields of the 'kratos-gateway started' line (a cluster primary's too) and of a worker's 'worker listening'. */
export function startedFields(
  core: Pick<GatewayResources, 'config' | 'snapshot'>,
  listeners: { proxy?: string; admin?: string },
): Record<string, unknown> {
  const config = core.config;
  return {
    ...listeners,
    kratos: redactUrl(config.kratos.public_url),
    ...(config.session_cache.enabled &&
      config.session_cache.shared.redis_url !== undefined && { shared_cache: redactUrl(config.session_cache.shared.redis_url) }),
    routes: core.snapshot.routes.all.map((r) => r.name),
    config_hash: core.snapshot.hash,
  };
}

export async function startGateway(input: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const config: GatewayConfig = structuredClone(input);
  const logger = options.logger ?? createLogger(config.log.level, undefined, config.log.format);
  const baseDir = options.baseDir ?? process.cwd();
  const closers: Array<() => Promise<void>> = [];
  const publicOrigin = new URL(config.proxy.public_base_url).origin;
  const role = options.role ?? 'all';
  const proxies = role !== 'primary';
  // The admin listener and the embedded servers: one of each per gateway, not per worker.
  const administers = role !== 'worker';

  try {
    // First: a bad key file is a configuration error (exit 2) before anything starts.
    if (config.identity_assertion.enabled && config.identity_assertion.tokenize_as === undefined) {
      const keys = prepareAssertionKeys(config.identity_assertion, baseDir);
      if (keys.ephemeral && administers)
        logger.warn(
          'identity_assertion: no key_file, signing with a key generated at start: fine for one process, but every restart changes it and every replica has its own (set identity_assertion.key_file for a fleet)',
        );
    }
    if (administers) for (const warning of policyWarnings(config.routes)) logger.warn(`route policy: ${warning}`);
    // Also before anything starts: an unreadable Redis password file is a configuration error.
    const redisPassword = readRedisPassword(config, baseDir);
    // And an unusable certificate or key (a cluster primary checks them for its workers).
    const tlsFiles = proxyTlsFiles(config.proxy.tls, baseDir);
    const tlsPair = tlsFiles === undefined ? undefined : loadProxyTlsPair(tlsFiles);
    let kratosAdminUrl: string | undefined;
    let identity: SupervisedIdentityServer | undefined;
    if (options.kratosPublicUrl !== undefined) config.kratos.public_url = options.kratosPublicUrl;
    else if (config.embedded_kratos.enabled && administers) {
      const e = config.embedded_kratos;
      const { file, raw } = readEmbeddedKratosFile(config, baseDir);
      // On its own thread: its CPU work for anonymous callers (argon2, the password policy)
      // must not stall proxied traffic; restarted when it dies. Loaded lazily: a
      // gateway in front of a real Kratos never starts the thread or loads SQLite.
      const { superviseIdentityServer } = await import('./identity/index.js');
      const server = await superviseIdentityServer(
        {
          config: withDerivedKratosDefaults(raw, config),
          configDir: dirname(file),
          publicListen: e.public_listen,
          adminListen: e.admin_listen,
          dsn: e.dsn,
        },
        logger, // the identity module names its own component (a second child() would repeat the key)
        options.identityRestartPolicy,
      ).catch((err: unknown) => {
        throw portTaken(err, { 'embedded_kratos.public_listen': e.public_listen, 'embedded_kratos.admin_listen': e.admin_listen });
      });
      identity = server;
      closers.push(() => server.close());
      config.kratos.public_url = server.publicUrl;
      kratosAdminUrl = server.adminUrl;
    }

    let demoUrl: string | undefined;
    // Set once the admin listener is up; read by the demo app on its first page view.
    const demoJwks: { url?: string } = {};
    if (config.demo_upstream.enabled && administers) {
      const demo = await import('./demo/index.js');
      const mount = config.kratos.mount_prefix;
      const server = await demo
        .startDemoUpstream({
          ...config.demo_upstream.listen,
          logger, // the module names its own component (a second child() would repeat the key)
          logoutUrl: `${mount}/self-service/browser/flows/logout`,
          settingsUrl: `${mount}/self-service/settings/browser`,
          // A Kratos-signed assertion (tokenize_as) is not verifiable against the gateway's JWKS.
          ...(config.identity_assertion.enabled && config.identity_assertion.tokenize_as === undefined
            ? {
                assertion: {
                  header: config.identity_assertion.header,
                  issuer: config.proxy.public_base_url,
                  audience: config.identity_assertion.audience,
                  // The admin listener starts below; the demo fetches the keys on its first page view.
                  jwksUrl: () => demoJwks.url,
                },
              }
            : {}),
        })
        .catch((err: unknown) => {
          throw portTaken(err, { 'demo_upstream.listen': config.demo_upstream.listen });
        });
      closers.push(() => server.close());
      demoUrl = server.url;
    }

    const tracing = await startTracing(options.tracingEnv ?? process.env, logger);
    // After the proxy has drained (its closer runs first), so the last requests' spans are flushed.
    if (tracing) closers.push(() => tracing.shutdown());
    const hash = configHash(input);
    const core = new GatewayResources(config, logger, tracing, hash, { redisPassword, invalidationBus: options.invalidationBus });
    if (identity !== undefined) {
      core.metrics.identityRestarts(0);
      // Readiness fails while it is down, liveness once it is given up (kratos-health.ts says why).
      identity.onStateChange((state) => {
        reportIdentityServer(core, state);
        // Told 'running' only after a restart (the first start is not a change of state).
        if (state.state === 'running') core.metrics.identityRestarts();
        if (state.state === 'down') options.onIdentityGaveUp?.();
      });
    }
    closers.push(() => core.close());

    const mounts: ControlMount[] = [];
    if (config.ui.enabled) {
      mounts.push({
        prefix: config.ui.prefix,
        // Per Kratos: an instance's hosts get its flows (ui/per-kratos.ts). The UI names its
        // own logger component (a second child() would repeat the key).
        router: selfServiceUiPerKratos({ config, publicOrigin, current: core, logger }),
      });
    }
    let proxyUrl = '';
    let certificates: CertificateReloader | undefined;
    if (proxies) {
      const control = createControlPlane(core, mounts);
      core.control = control;
      closers.push(() => control.close());

      const p = config.proxy;
      const handler = createProxyHandler(core);
      const proxyServer: Server = createServer(
        {
          maxHeaderSize: p.max_header_size,
          keepAliveTimeout: p.keep_alive_timeout_ms,
          ...enforcedTimeouts(p.headers_timeout_ms, p.request_timeout_ms),
        },
        handler.request,
      );
      proxyServer.on('upgrade', handler.upgrade);
      proxyServer.on('checkContinue', handler.checkContinue);
      const h2 = proxyHttp2(p, handler.stream);
      // With TLS the TLS front listens and hands each connection to the server of its protocol
      // (ALPN); without, the h2c front does when HTTP/2 is on.
      let front: TlsFront | undefined;
      if (tlsPair !== undefined) {
        front = createTlsDispatcher({
          http1: proxyServer,
          ...(h2 !== undefined && { http2: h2.server }),
          certificate: tlsPair,
          minVersion: p.tls.min_version,
          handshakeTimeoutMs: p.headers_timeout_ms,
          onClientError: (err, socket) =>
            logger.debug({ err: { message: err.message }, peer: socket.remoteAddress }, 'TLS handshake failed'),
        });
      }
      const listening = front ?? (h2 !== undefined ? h2cFront(proxyServer, h2, p.headers_timeout_ms) : undefined);
      proxyUrl = await listen(listening ?? proxyServer, p.listen.host, p.listen.port, 'proxy.listen');
      closers.unshift(() => {
        h2?.closeSessions(); // GOAWAY: streams in flight finish, no new ones start
        const expired = () => {
          core.destroyUpgradedSockets();
          h2?.destroySessions();
        };
        return closeGracefully(proxyServer, p.shutdown_grace_ms, expired, listening);
      });
      if (front !== undefined) {
        const reloader = reloadProxyCertificates(front, tlsFiles!, tlsPair!, logger);
        certificates = reloader;
        closers.unshift(async () => reloader.close());
      }
    }

    let adminUrl = '';
    if (administers) {
      const adminServer = createServer(
        enforcedTimeouts(ADMIN_HEADERS_TIMEOUT_MS, ADMIN_REQUEST_TIMEOUT_MS),
        createAdminHandler(core, options.adminCluster),
      );
      // HTTP/2 without TLS on the same port: Envoy's ext_authz gRPC service (admin-http2.ts).
      const adminHttp2 = createAdminHttp2(core);
      const adminListener = createH2cDispatcher({
        http1: adminServer,
        http2: adminHttp2.server,
        prefaceTimeoutMs: ADMIN_HEADERS_TIMEOUT_MS,
      });
      adminUrl = await listen(adminListener, config.admin.listen.host, config.admin.listen.port, 'admin.listen');
      // Together: the listener has closed only once the HTTP/2 sessions have, too.
      closers.push(async () => {
        await Promise.all([closeGracefully(adminServer, 1_000, undefined, adminListener), adminHttp2.close(1_000)]);
      });
      demoJwks.url = adminUrl + JWKS_PATH;
    }

    let reloader: ConfigReloader | undefined;
    if (options.configFile !== undefined) {
      reloader = new ConfigReloader(core, options.configFile, input, options.env);
      reloader.onApplied = options.onReloadApplied;
      // A worker reloads when its primary tells it to (or on its own SIGHUP): one watcher per gateway.
      if (role !== 'worker') reloader.watch();
      const r = reloader;
      closers.unshift(async () => r.close());
    }

    const started = startedFields(core, { ...(proxies ? { proxy: proxyUrl } : {}), ...(administers ? { admin: adminUrl } : {}) });
    // In a cluster the primary says 'kratos-gateway started' once every worker listens.
    if (role === 'all') logger.info(started, 'kratos-gateway started');
    else if (role === 'worker') logger.info(started, 'worker listening');

    let stopping: Promise<void> | undefined;
    return {
      proxyUrl,
      adminUrl,
      kratosPublicUrl: config.kratos.public_url,
      kratosAdminUrl,
      demoUrl,
      get identityWorker() {
        return identity?.worker;
      },
      core,
      reload: (trigger = 'reload()', loaded?: GatewayConfig) => {
        // A configuration its primary loaded comes without a SIGHUP: the primary says when to read the certificate.
        if (loaded === undefined) certificates?.reload(trigger);
        return reloader?.reload(trigger, loaded);
      },
      reloadCertificates: (trigger) => void certificates?.reload(trigger),
      shutdown() {
        stopping ??= (async () => {
          core.draining = true;
          for (const close of closers)
            await close().catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'error while shutting down'));
          logger.info(role === 'worker' ? 'worker stopped' : 'kratos-gateway stopped');
          logger.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw err;
  }
}
