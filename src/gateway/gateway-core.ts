import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { credentialExtractors, type CredentialExtractor } from './credentials/index.js';
import { HttpForwarder } from './forward/http-forwarder.js';
import { WebSocketForwarder } from './forward/websocket-forwarder.js';
import { IDENTITY_ID_HEADER, normalizeHeaderName } from './headers/identity-headers.js';
import { headerMutators, type HeaderMutator } from './mutators/index.js';
import { ReturnToPolicy } from './return-to.js';
import { RouteTable } from './routing/route-table.js';
import { SessionResolver } from './session/session-resolver.js';
import type { Tracing } from '../tracing/types.js';
import { TrustedProxies } from './trusted-proxies.js';

/**
 * Headers that make upstream frameworks route or dispatch on something other than the request
 * line the gateway matched: Symfony/Laminas/IIS `X-Original-URL`/`X-Rewrite-URL`, and the
 * method-override family (Rack, express method-override, Spring HiddenHttpMethodFilter). A
 * client could use them to reach a protected path through an anonymous route, or to defeat a
 * route's method list, so they are stripped like identity headers.
 */
const ROUTING_OVERRIDE_HEADERS = ['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override'];

/** The express side (Kratos mount, self-service UI): owns some path prefixes on the proxy port. */
export interface ControlPlane {
  owns(canonicalPath: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Every stage of the pipeline, built once from the configuration. The hot path
 * (proxy-handler.ts) and the decision API (admin/decisions.ts) both read from this.
 */
export class GatewayCore {
  readonly routes: RouteTable;
  readonly extractors: readonly CredentialExtractor[];
  readonly resolver: SessionResolver;
  readonly mutators: readonly HeaderMutator[];
  readonly trustedProxies: TrustedProxies;
  readonly returnTo: ReturnToPolicy;
  readonly metrics: GatewayMetrics;
  readonly http: HttpForwarder;
  readonly websocket: WebSocketForwarder;
  /** Normalised names stripped from every request (identity and routing-override headers; X-Kratos-* always). */
  readonly protectedHeaderNames: ReadonlySet<string>;
  /** Names the gateway sets upstream; a `Connection` token can never remove them. */
  readonly injectedHeaderNames: ReadonlySet<string>;
  readonly loginUrl: string;
  readonly publicOrigin: string;
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
  ) {
    this.routes = new RouteTable(config.routes, config.identity_headers);
    this.extractors = credentialExtractors(config.kratos.session_cookie);
    this.trustedProxies = new TrustedProxies(config.proxy.trusted_proxies);
    this.returnTo = new ReturnToPolicy(config.proxy.public_base_url, config.login.allowed_return_to_hosts);
    this.publicOrigin = new URL(config.proxy.public_base_url).origin;
    this.loginUrl = config.login.redirect_url ?? `${this.publicOrigin}${config.kratos.mount_prefix}/self-service/login/browser`;

    const mappings = [config.identity_headers, ...config.routes.map((r) => r.identity_headers ?? {})];
    const protectedNames = new Set<string>([IDENTITY_ID_HEADER, ...ROUTING_OVERRIDE_HEADERS]);
    const valuePaths = new Set<string>();
    for (const mapping of mappings) {
      for (const [header, path] of Object.entries(mapping)) {
        protectedNames.add(normalizeHeaderName(header));
        valuePaths.add(path);
      }
    }
    this.protectedHeaderNames = protectedNames;
    this.injectedHeaderNames = new Set([...protectedNames, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

    let resolver: SessionResolver | undefined;
    this.metrics = new GatewayMetrics(() => resolver?.size ?? 0);
    const c = config.session_cache;
    resolver = new SessionResolver({
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
      },
      valuePaths: [...valuePaths],
      metrics: this.metrics,
      logger,
    });
    this.resolver = resolver;
    this.mutators = headerMutators(config);
    this.http = new HttpForwarder(config.proxy.upstream_connections);
    this.websocket = new WebSocketForwarder((err, req) => {
      // The path only: a query string may carry a token, and credentials never reach the logs.
      this.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code }, path: (req.url ?? '').split('?', 1)[0] }, 'websocket upstream error');
    });
  }

  async close(): Promise<void> {
    this.websocket.close();
    await Promise.all([this.http.close(), this.resolver.close()]);
  }
}
