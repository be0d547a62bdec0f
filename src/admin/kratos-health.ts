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
import type { GatewayCore } from '../gateway/gateway-core.js';

/**
 * Gateways whose embedded identity server thread has died (identity/thread.ts). Unlike a
 * remote Kratos outage, which every pod shares and which may pass, this is local and
 * permanent: nothing restarts the thread, so every route that needs a session answers 503
 * until the process restarts. Readiness and liveness both fail then: readiness so that
 * traffic goes to pods that can authenticate, liveness so that the orchestrator restarts
 * this one (a live-but-useless process would otherwise sit there forever).
 */
const deadIdentityServers = new WeakMap<GatewayCore, number>();

export function reportIdentityServerDead(g: GatewayCore, exitCode: number): void {
  deadIdentityServers.set(g, exitCode);
  g.metrics.kratosUp.set(0);
}

/** The health body while the embedded identity server is dead, else undefined. */
export function identityServerDown(g: GatewayCore): { status: 'identity_server_down'; exit_code: number } | undefined {
  const code = deadIdentityServers.get(g);
  return code === undefined ? undefined : { status: 'identity_server_down', exit_code: code };
}

export type KratosHealthResult =
  { up: true } | { up: false; status: 'kratos_unhealthy'; kratos_status: number } | { up: false; status: 'kratos_unreachable' };

/** A scrape reuses a check younger than this instead of calling Kratos again. */
const SCRAPE_MAX_AGE_MS = 5_000;

export class KratosHealth {
  private inflight: Promise<KratosHealthResult> | undefined;
  private checkedAt = -Infinity;

  constructor(private readonly g: GatewayCore) {
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
