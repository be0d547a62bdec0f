/**
 * One session resolver per Kratos: the top-level `kratos` and each of `kratos_instances`, each
 * with its own whoami pool, timeout and `kratos` metric label, all over the one session store
 * (one memory bound, one Redis connection pair). What keeps the instances apart in that store:
 * an instance's cache keys carry its name, and its identities are scoped by it (cache-key.ts),
 * so a purge of an identity at one Kratos never touches the same id at another, here or, through
 * the invalidation message that names the scoped identity, anywhere in the fleet.
 */
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { SessionResolver } from '../session/session-resolver.js';
import type { SessionStore } from '../session/store/session-store.js';
import type { KratosTenant } from './tenant-table.js';

export interface KratosResolverDeps {
  metrics: GatewayMetrics;
  logger: Logger;
  valuePaths: readonly string[];
  store: SessionStore | undefined;
}

function resolverFor(
  config: GatewayConfig,
  kratos: { name?: string; publicUrl: string; whoamiTimeoutMs: number },
  deps: KratosResolverDeps,
): SessionResolver {
  const c = config.session_cache;
  const ia = config.identity_assertion;
  return new SessionResolver({
    kratosPublicUrl: kratos.publicUrl,
    whoamiTimeoutMs: kratos.whoamiTimeoutMs,
    connections: config.kratos.connections,
    cache: {
      enabled: c.enabled,
      ttlCapMs: c.ttl_cap_ms,
      negativeTtlMs: c.negative_ttl_ms,
      honourCacheForHeader: c.honour_cache_for_header,
      revalidateAfterMs: c.revalidate_after_ms,
    },
    valuePaths: deps.valuePaths,
    metrics: deps.metrics,
    logger: deps.logger,
    ...(ia.enabled && ia.tokenize_as !== undefined ? { tokenizeAs: ia.tokenize_as } : {}),
    ...(deps.store !== undefined && { store: deps.store }),
    ...(kratos.name !== undefined && { kratos: kratos.name, sharesStore: true }),
  });
}

export class KratosResolvers {
  /** The top-level kratos's: it owns (and closes) the store. */
  readonly top: SessionResolver;
  private readonly byName = new Map<string, SessionResolver>();

  constructor(config: GatewayConfig, deps: KratosResolverDeps) {
    this.top = resolverFor(config, { publicUrl: config.kratos.public_url, whoamiTimeoutMs: config.kratos.whoami_timeout_ms }, deps);
    for (const [name, k] of Object.entries(config.kratos_instances))
      this.byName.set(name, resolverFor(config, { name, publicUrl: k.public_url, whoamiTimeoutMs: k.whoami_timeout_ms }, deps));
  }

  /** The resolver of a request's Kratos (undefined: the top-level kratos). */
  of(tenant: KratosTenant | undefined): SessionResolver {
    return tenant === undefined ? this.top : this.byName.get(tenant.name)!;
  }

  /** By instance name (the admin API's `kratos` parameter); undefined for a name not configured. */
  named(name: string | undefined): SessionResolver | undefined {
    return name === undefined ? this.top : this.byName.get(name);
  }

  /** The instances' resolvers first: the top-level one closes the store they share. */
  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((r) => r.close()));
    await this.top.close();
  }
}
