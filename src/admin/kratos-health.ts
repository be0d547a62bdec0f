/**
 * Kratos reachability, as seen from this gateway: GET <kratos.public_url>/health/alive.
 *
 * It feeds the `kratos_gateway_kratos_up` gauge and, only when
 * `admin.readiness_requires_kratos` is set, readiness. By default readiness does not
 * depend on it: every gateway pod sees the same Kratos, so failing readiness on a Kratos
 * blip would remove all of them from their Service and turn the gateway's fail-closed
 * 503s (and anonymous routes, which never need Kratos) into connection errors.
 */
import { request } from 'undici';
import type { GatewayConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../observability/metrics.js';

/** What the Kratos checks use: where Kratos is, and the gauge they set. */
export interface KratosHealthDeps {
  readonly config: Pick<GatewayConfig, 'kratos'>;
  readonly metrics: Pick<GatewayMetrics, 'kratosUp' | 'kratosUpRefresh'>;
}

/**
 * The embedded identity server's thread, as its supervisor (identity/server/supervisor.ts) reports it.
 * Unlike a remote Kratos outage, which every pod shares and which may pass, this is local:
 *
 *  - restarting (it died, a restart is scheduled or under way): readiness fails, so traffic goes
 *    to pods that can authenticate, but liveness does not: the process is doing what a restart
 *    of the pod would do, and a quickstart (`npm start`) has no orchestrator to restart it;
 *  - down (the restarts kept failing and were given up): liveness fails too, so that an
 *    orchestrator restarts this process (main.ts also ends it, as the cluster primary does when
 *    its workers keep exiting); a live-but-useless process would otherwise sit there forever.
 */
export type IdentityServerHealth = { state: 'restarting' | 'down'; exitCode: number; failures: number } | { state: 'running' };

/**
 * Keyed by the gateway's resources (the object startGateway reports for and the admin listener
 * reads from): one gateway per process, several in a test process.
 */
const identityServers = new WeakMap<object, IdentityServerHealth>();

export function reportIdentityServer(g: Pick<KratosHealthDeps, 'metrics'>, health: IdentityServerHealth): void {
  identityServers.set(g, health);
  // Up again: the thread has just said it listens. Down: nothing answers at the URL.
  g.metrics.kratosUp.set(health.state === 'running' ? 1 : 0);
}

/** The readiness body while the embedded identity server is not running, else undefined. */
export function identityServerNotReady(
  g: object,
): { status: 'identity_server_restarting' | 'identity_server_down'; exit_code: number; failures: number } | undefined {
  const h = identityServers.get(g);
  if (h === undefined || h.state === 'running') return undefined;
  return {
    status: h.state === 'down' ? 'identity_server_down' : 'identity_server_restarting',
    exit_code: h.exitCode,
    failures: h.failures,
  };
}

/** The liveness body once restarting the embedded identity server was given up, else undefined. */
export function identityServerDead(g: object): { status: 'identity_server_down'; exit_code: number; failures: number } | undefined {
  const h = identityServers.get(g);
  return h?.state === 'down' ? { status: 'identity_server_down', exit_code: h.exitCode, failures: h.failures } : undefined;
}

export type KratosHealthResult =
  { up: true } | { up: false; status: 'kratos_unhealthy'; kratos_status: number } | { up: false; status: 'kratos_unreachable' };

/** A scrape reuses a check younger than this instead of calling Kratos again. */
const SCRAPE_MAX_AGE_MS = 5_000;

export class KratosHealth {
  private inflight: Promise<KratosHealthResult> | undefined;
  private checkedAt = -Infinity;

  constructor(private readonly g: KratosHealthDeps) {
    // A scrape with no readiness probes running (e.g. the opt-out of probes in a sidecar)
    // must still see a current value, not the one from startup.
    g.metrics.kratosUpRefresh = async () => {
      if (performance.now() - this.checkedAt > SCRAPE_MAX_AGE_MS) await this.check();
    };
  }

  /** Concurrent callers (probe, scrape) share one request to Kratos. */
  check(): Promise<KratosHealthResult> {
    this.inflight ??= this.probe().then((result) => {
      this.inflight = undefined;
      this.checkedAt = performance.now();
      this.g.metrics.kratosUp.set(result.up ? 1 : 0);
      return result;
    });
    return this.inflight;
  }

  private async probe(): Promise<KratosHealthResult> {
    const k = this.g.config.kratos;
    try {
      const res = await request(new URL('health/alive', k.public_url.replace(/\/?$/, '/')), {
        signal: AbortSignal.timeout(Math.min(2_000, k.whoami_timeout_ms * 2)),
      });
      await res.body.dump();
      return res.statusCode === 200 ? { up: true } : { up: false, status: 'kratos_unhealthy', kratos_status: res.statusCode };
    } catch {
      return { up: false, status: 'kratos_unreachable' };
    }
  }
}
