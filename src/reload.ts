/**
 * Hot reload: on SIGHUP (main.ts) and on a change of the configuration file (debounced), the
 * file is loaded and validated the way it was at start, a new configuration snapshot is built
 * and swapped in. Requests under way finish on the snapshot they started with.
 *
 *  - An invalid file keeps the running snapshot; every error is logged with its key path.
 *  - Keys held by process-lifetime resources (listeners, the embedded servers, pools, the
 *    session cache, the control plane, logging) are not applied: each changed one is reported
 *    as needing a restart. Everything a request derives from configuration is applied.
 *  - Names a caller must never set stay protected until the restart: an identity header a
 *    reload removes is still stripped from callers (an upstream not yet redeployed may still
 *    trust it), as the routing-override headers and X-Kratos-* always are. Likewise a session
 *    cookie name a reload replaces is still removed upstream (the identity server may still
 *    honour it).
 *  - `kratos_gateway_config_reloads_total{result}` counts reloads; the loaded configuration's
 *    hash is the `config_hash` log field and the `kratos_gateway_config_info{hash}` label.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './observability/metrics.js';
import { keyFileOnReload } from './gateway/assertion/key-reload.js';
import { ConfigSnapshot, configHash } from './gateway/config-snapshot.js';
import { attributeToEnv, ConfigError, loadConfigFile } from './config/load.js';
import type { EnvOrigins } from './config/env.js';
import type { GatewayConfig } from './config/schema.js';
import { policyWarnings } from './config/policy-lint.js';

/**
 * Key paths a reload applies: they feed the configuration snapshot, except
 * proxy.worker_start_timeout_ms, which a cluster primary reads from the last applied
 * configuration for each worker it starts (src/cluster/primary.ts).
 */
const APPLIED_KEYS = [
  'routes',
  'identity_headers',
  'login',
  'proxy.trusted_proxies',
  'proxy.strip_credentials',
  'kratos.session_cookie',
  'proxy.worker_start_timeout_ms',
];

/** The symlink a Kubernetes ConfigMap/Secret volume swaps atomically on an update (the kubelet's atomic writer). */
const KUBERNETES_DATA_LINK = '..data';

export interface ReloadOutcome {
  result: 'applied' | 'rejected' | 'unchanged';
  /** Short sha256 of the loaded configuration (undefined when it was rejected). */
  hash?: string;
  errors?: string[];
  /** Changed keys that are not applied until the process restarts. */
  restartRequired: string[];
}

function isApplied(path: string): boolean {
  return APPLIED_KEYS.some((k) => path === k || path.startsWith(k + '.'));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf key paths whose values differ (arrays compared whole). */
export function changedKeyPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: string[] = [];
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      out.push(...changedKeyPaths(a[key], b[key], prefix === '' ? key : `${prefix}.${key}`));
    return out;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix === '' ? '(root)' : prefix];
}

/** What a reload changes, and what it reads to decide: the running snapshot, the value paths fixed at start. */
export interface ReloadTarget {
  readonly snapshot: ConfigSnapshot;
  /** Value paths the session resolver extracts: fixed at start. */
  readonly valuePaths: ReadonlySet<string>;
  swap(next: ConfigSnapshot): void;
  readonly metrics: Pick<GatewayMetrics, 'configReload'>;
  readonly logger: Logger;
}

export class ConfigReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private currentHash: string;
  /**
   * Told of every applied reload, whatever its trigger, with the configuration as loaded (a
   * cluster primary hands that very configuration to its workers: a worker reading the file
   * itself could find another version of it, or a broken one, and keep a different configuration).
   */
  onApplied: ((outcome: ReloadOutcome, trigger: string, loaded: GatewayConfig) => void) | undefined;

  constructor(
    private readonly target: ReloadTarget,
    private readonly file: string,
    /** The configuration the process started with, as loaded (before the embedded server's URL replaced kratos.public_url). */
    private readonly started: GatewayConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.currentHash = configHash(started);
  }

  /** Loads the file and applies it; or applies `given`, a configuration loaded elsewhere (a cluster primary's). */
  reload(trigger: string, given?: GatewayConfig): ReloadOutcome {
    const log = this.target.logger;
    let loaded: GatewayConfig;
    let origins: EnvOrigins | undefined;
    try {
      if (given !== undefined) loaded = given;
      else ({ config: loaded, envOrigins: origins } = loadConfigFile(this.file, this.env));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const problem of err.problems)
        log.error({ trigger, config_file: this.file, error: problem }, `configuration reload rejected: ${problem}`);
      log.warn(
        { trigger, config_file: this.file, config_hash: this.currentHash, errors: err.problems.length },
        'configuration reload rejected; the running configuration is kept',
      );
      this.target.metrics.configReload('rejected');
      return { result: 'rejected', errors: err.problems, restartRequired: [] };
    }
    const hash = configHash(loaded);
    const restartRequired = changedKeyPaths(this.started, loaded).filter((p) => !isApplied(p));
    // The key file is read at start only; a worker's configuration comes from its primary, which reads it.
    if (origins !== undefined) this.checkKeyFile(trigger, loaded, origins, restartRequired);
    const base = this.target.snapshot.config;
    const merged: GatewayConfig = {
      ...base,
      routes: loaded.routes,
      identity_headers: loaded.identity_headers,
      login: loaded.login,
      proxy: { ...base.proxy, trusted_proxies: loaded.proxy.trusted_proxies, strip_credentials: loaded.proxy.strip_credentials },
      kratos: { ...base.kratos, session_cookie: loaded.kratos.session_cookie },
    };
    const next = new ConfigSnapshot(merged, hash, this.target.snapshot);
    // The session resolver extracts the value paths it was started with.
    for (const path of next.valuePaths)
      if (!this.target.valuePaths.has(path)) restartRequired.push(`identity_headers (value path ${path})`);
    if (restartRequired.length > 0) {
      log.warn(
        { trigger, config_hash: hash, keys: restartRequired },
        `configuration keys changed that need a restart (not applied): ${restartRequired.join(', ')}`,
      );
    }
    if (hash === this.currentHash) {
      log.info({ trigger, config_hash: hash }, 'configuration unchanged');
      return { result: 'unchanged', hash, restartRequired };
    }
    this.target.swap(next);
    this.currentHash = hash;
    this.target.metrics.configReload('applied');
    log.info({ trigger, config_file: this.file, config_hash: hash, routes: next.routes.all.map((r) => r.name) }, 'configuration reloaded');
    // A worker is handed what its primary loaded, and the primary has already warned about it.
    if (given === undefined) for (const warning of policyWarnings(loaded.routes)) log.warn({ trigger }, `route policy: ${warning}`);
    const outcome: ReloadOutcome = { result: 'applied', hash, restartRequired };
    this.onApplied?.(outcome, trigger, loaded);
    return outcome;
  }

  /** A rotated or broken identity assertion key file: reported, never applied (the running keys stay). */
  private checkKeyFile(trigger: string, loaded: GatewayConfig, origins: EnvOrigins, restartRequired: string[]): void {
    const running = this.target.snapshot.config.identity_assertion;
    const { changed, problems } = keyFileOnReload(running, loaded.identity_assertion, dirname(resolve(this.file)));
    for (const problem of attributeToEnv(new ConfigError(problems), origins).problems)
      this.target.logger.error(
        { trigger, config_file: this.file, error: problem },
        `identity assertion key file rejected, the running keys are kept (a restart would fail): ${problem}`,
      );
    if (changed && problems.length === 0 && !restartRequired.includes('identity_assertion.key_file'))
      restartRequired.push('identity_assertion.key_file (its keys changed)');
  }

  /**
   * Reloads when the file changes: its directory is watched, so a file an editor replaces by
   * rename is still seen. A Kubernetes ConfigMap volume never touches the file's own name: it
   * is a symlink through `..data`, and an update renames a new `..data` symlink into place, so
   * a change of `..data` counts too. An event without a name (some platforms) always does.
   */
  watch(debounceMs = 200): void {
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== null && changed !== name && changed !== KUBERNETES_DATA_LINK) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        try {
          this.reload('file change');
        } catch (err) {
          this.target.logger.error({ err: { message: (err as Error).message } }, 'configuration reload failed');
        }
      }, debounceMs);
      this.timer.unref();
    });
    this.watcher.unref();
    this.watcher.on('error', (err) =>
      this.target.logger.warn({ err: { message: err.message } }, 'configuration file watch failed; SIGHUP still reloads'),
    );
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
