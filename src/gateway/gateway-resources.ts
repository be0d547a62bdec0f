import type { Duplex } from 'node:stream';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { HttpForwarder } from './forward/http-forwarder.js';
import { Http2Forwarder } from './forward/http2-forwarder.js';
import { WebSocketForwarder } from './forward/websocket-forwarder.js';
import { ConfigSnapshot } from './config-snapshot.js';
import { SessionResolver } from './session/session-resolver.js';
import { KratosResolvers } from './tenancy/kratos-resolvers.js';
import { createSessionStore } from './session/store/create-session-store.js';
import type { InvalidationChannel } from './session/store/invalidation-channel.js';
import type { Tracing } from '../observability/tracing/types.js';
import type { ControlPlane } from './transport/http.js';

/**
 * The process-lifetime resources, built once by startGateway: the session resolver (its cache
 * and Kratos pool), the upstream forwarders, metrics, the logger, tracing. `config` is the
 * configuration the process started with (listeners, pools, sizes: what a reload cannot change).
 *
 * Everything a request derives from configuration is in `snapshot` (config-snapshot.ts),
 * which a reload replaces whole. Requests read `snapshot` once at arrival.
 *
 * No module of the request path takes this class: each entry point declares the part it uses (PipelineDeps,
 * HttpTransportDeps, AdminDeps, ReloadTarget…), and this object is handed to them because it
 * has those parts.
 */
export class GatewayResources {
  /** The current configuration snapshot; replaced only by swap(). */
  snapshot: ConfigSnapshot;
  /** The top-level kratos's resolver (`kratos`); `kratos_instances` each have theirs in `resolvers`. */
  readonly resolver: SessionResolver;
  readonly resolvers: KratosResolvers;
  readonly metrics: GatewayMetrics;
  readonly http: HttpForwarder;
  /** Routes with `upstream_protocol` h2c or h2. */
  readonly http2: Http2Forwarder;
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
      invalidationBus?: InvalidationChannel | undefined;
    } = {},
  ) {
    this.snapshot = new ConfigSnapshot(config, configHash);
    const valuePaths = this.snapshot.valuePaths;
    this.valuePaths = new Set(valuePaths);

    // The metrics read the resolver's size lazily; the resolver needs the metrics to exist first.
    this.metrics = new GatewayMetrics(
      () => (this.resolver as SessionResolver | undefined)?.size ?? 0,
      Object.keys(config.kratos_instances),
    );
    this.metrics.configLoaded(this.snapshot.hash);
    const store = createSessionStore(config, {
      logger,
      metrics: this.metrics,
      redisPassword: sharing.redisPassword,
      bus: sharing.invalidationBus,
      valuePaths,
    });
    this.resolvers = new KratosResolvers(config, { metrics: this.metrics, logger, valuePaths, store });
    this.resolver = this.resolvers.top;
    this.http = new HttpForwarder(config.proxy.upstream_connections);
    this.http2 = new Http2Forwarder(config.proxy.upstream_connections);
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

  async close(): Promise<void> {
    this.websocket.close();
    await Promise.all([this.http.close(), this.http2.close(), this.resolvers.close()]);
  }
}
