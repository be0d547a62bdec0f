import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import type { CredentialExtractor } from './pipeline/credentials/index.js';
import { HttpForwarder } from './forward/http-forwarder.js';
import { WebSocketForwarder } from './forward/websocket-forwarder.js';
import type { HeaderMutator } from './pipeline/mutators/index.js';
import { ConfigSnapshot } from './config-snapshot.js';
import type { ReturnToPolicy } from './return-to.js';
import type { RouteTable } from './routing/route-table.js';
import { SessionResolver } from './session/session-resolver.js';
import { createSharedSessionStore } from './session/shared-session-store.js';
import { MemorySessionStore, type LocalInvalidationBus } from './session/memory-session-store.js';
import type { Tracing } from '../observability/tracing/types.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** The express side (Kratos mount, self-service UI): owns some path prefixes on the proxy port. */
export interface ControlPlane {
  owns(canonicalPath: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The same over HTTP/2, through Node's compatibility request and response objects. */
  handleHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void;
}

/**
 * The process-lifetime resources, built once: the session resolver (its cache and Kratos
 * pool), the upstream forwarders, metrics, the logger, tracing. `config` is the configuration
 * the process started with (listeners, pools, sizes: what a reload cannot change).
 *
 * Everything a request derives from configuration is in `snapshot` (config-snapshot.ts),
 * which a reload replaces whole. Requests read `g.snapshot` once at arrival.
 */
export class GatewayCore {
  /** The current configuration snapshot; replaced only by swap(). */
  snapshot: ConfigSnapshot;
  readonly resolver: SessionResolver;
  readonly metrics: GatewayMetrics;
  readonly http: HttpForwarder;
  readonly websocket: WebSocketForwarder;
  /** Value paths the resolver extracts: fixed at start (the resolver is a resource). */
  readonly valuePaths: ReadonlySet<string>;
  control: ControlPlane | undefined;
  draining = false;
  /** Forwarded WebSockets: the HTTP server stops tracking a socket once it is upgraded. */
  readonly upgradedSockets = new Set<Duplex>();

  /** At the end of the drain period: WebSockets are long-lived and would hold the process. */
  destroyUpgradedSockets(): void {
    for (const socket of this.upgradedSockets) socket.destroy();
    this.upgradedSockets.clear();
  }

  constructor(
    readonly config: GatewayConfig,
    readonly logger: Logger,
    /** Undefined when tracing is off: the hot path checks it and does nothing else. */
    readonly tracing?: Tracing,
    /** Of the configuration as loaded (startGateway); default: of `config`. */
    configHash?: string,
    /** How this process's cache reaches the others of the gateway. */
    sharing: {
      /** From session_cache.shared.password_file, read by startGateway (relative paths need the config's directory). */
      redisPassword?: string | undefined;
      /** Without Redis: the other processes of this gateway (cluster workers) that this cache's purges must reach, and whose purges it takes. */
      invalidationBus?: LocalInvalidationBus | undefined;
    } = {},
  ) {
    this.snapshot = new ConfigSnapshot(config, configHash);
    const valuePaths = this.snapshot.valuePaths;
    this.valuePaths = new Set(valuePaths);

    // The metrics read the resolver's size lazily; the resolver needs the metrics to exist first.
    this.metrics = new GatewayMetrics(() => (this.resolver as SessionResolver | undefined)?.size ?? 0);
    this.metrics.configLoaded(this.snapshot.hash);
    const c = config.session_cache;
    // Shared mode (Redis) when configured: every process has its own connection and needs no
    // bus. Otherwise the cluster's bus when there is one, else the resolver's in-memory store.
    const bus = sharing.invalidationBus;
    const store =
      createSharedSessionStore(config, logger, this.metrics, sharing.redisPassword, valuePaths) ??
      (bus !== undefined && c.enabled
        ? new MemorySessionStore({
            maxEntries: c.max_entries,
            maxBytes: c.max_bytes,
            ttlCapMs: c.ttl_cap_ms,
            negativeTtlMs: c.negative_ttl_ms,
            bus,
          })
        : undefined);
    const resolver = new SessionResolver({
      kratosPublicUrl: config.kratos.public_url,
      whoamiTimeoutMs: config.kratos.whoami_timeout_ms,
      connections: config.kratos.connections,
      cache: {
        enabled: c.enabled,
        maxEntries: c.max_entries,
        maxBytes: c.max_bytes,
        ttlCapMs: c.ttl_cap_ms,
        negativeTtlMs: c.negative_ttl_ms,
        honourCacheForHeader: c.honour_cache_for_header,
        revalidateAfterMs: c.revalidate_after_ms,
      },
      valuePaths,
      metrics: this.metrics,
      logger,
      ...(config.identity_assertion.enabled && config.identity_assertion.tokenize_as !== undefined
        ? { tokenizeAs: config.identity_assertion.tokenize_as }
        : {}),
      ...(store !== undefined && { store }),
    });
    this.resolver = resolver;
    this.http = new HttpForwarder(config.proxy.upstream_connections);
    this.websocket = new WebSocketForwarder((err, req) => {
      // The path only: a query string may carry a token, and credentials never reach the logs.
      this.logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code }, path: (req.url ?? '').split('?', 1)[0] },
        'websocket upstream error',
      );
    });
  }

  /** Replaces the configuration snapshot; requests already under way keep the one they read. */
  swap(next: ConfigSnapshot): void {
    this.snapshot = next;
    this.metrics.configLoaded(next.hash);
  }

  // The current snapshot's parts, for callers outside the request path (tests, the admin API).
  get routes(): RouteTable {
    return this.snapshot.routes;
  }
  get extractors(): readonly CredentialExtractor[] {
    return this.snapshot.credentialSources;
  }
  get mutators(): readonly HeaderMutator[] {
    return this.snapshot.mutators;
  }
  get protectedHeaderNames(): ReadonlySet<string> {
    return this.snapshot.protectedHeaderNames;
  }
  get injectedHeaderNames(): ReadonlySet<string> {
    return this.snapshot.injectedHeaderNames;
  }
  get trustedProxies(): TrustedProxies {
    return this.snapshot.trustedProxies;
  }
  get returnTo(): ReturnToPolicy {
    return this.snapshot.returnTo;
  }
  get loginUrl(): string {
    return this.snapshot.loginUrl;
  }
  get publicOrigin(): string {
    return this.snapshot.publicOrigin;
  }

  async close(): Promise<void> {
    this.websocket.close();
    await Promise.all([this.http.close(), this.resolver.close()]);
  }
}
