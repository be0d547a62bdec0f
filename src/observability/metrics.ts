/**
 * Prometheus metrics, one registry per gateway instance (tests run several in a process).
 * Labels are route names, method and status: never identity ids or raw paths.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NODE_VERSION, VERSION } from '../version.js';

const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'] as const;
/** Method label → 1…9; anything else is `OTHER` (0). Fewer than 16, so `status * 16 + index` is unique. */
const METHOD_INDEX = new Map<string, number>(KNOWN_METHODS.map((m, i) => [m, i + 1]));
const METHOD_LABEL: readonly string[] = ['OTHER', ...KNOWN_METHODS];

interface RequestSeries {
  count: { inc(): void };
  duration: { observe(v: number): void };
}

export type CacheLookupResult = 'hit' | 'miss' | 'coalesced' | 'negative_hit';
export type WhoamiOutcome = 'active' | 'unauthorized' | 'error' | 'rate_limited';
/** What a request came over: HTTP/1.x, HTTP/2 over TLS, HTTP/2 with prior knowledge, or gRPC (over either HTTP/2). */
export type Protocol = 'http1' | 'h2' | 'h2c' | 'grpc';
const PROTOCOL_INDEX: Readonly<Record<Protocol, number>> = { http1: 0, h2: 1, h2c: 2, grpc: 3 };

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'websocket';

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status' | 'protocol'>;
  private readonly duration: Histogram<'route'>;
  private readonly whoamiRequests: Counter<'outcome'>;
  private readonly whoamiDuration: Histogram;
  private readonly cacheLookups: Counter<'result'>;
  private readonly cacheLookupSeries: Record<CacheLookupResult, { inc(n?: number): void }>;
  private readonly upstreamErrors: Counter<'route' | 'kind'>;
  private readonly configReloads: Counter<'result'>;
  private readonly configInfo: Gauge<'hash'>;
  readonly cacheEntries: Gauge;
  readonly kratosUp: Gauge;
  private sharedCacheSeries: { up: Gauge; invalidations: Counter<'direction'> } | undefined;
  /** Set by the admin listener's Kratos health check; a scrape refreshes a stale value. */
  kratosUpRefresh: (() => Promise<void>) | undefined;

  constructor(cacheSize: () => number) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'kratos_gateway_requests_total',
      help: 'Requests answered, by route name, method, status code and protocol (http1, h2, h2c, grpc).',
      labelNames: ['route', 'method', 'status', 'protocol'],
      registers,
    });
    this.duration = new Histogram({
      name: 'kratos_gateway_request_duration_seconds',
      help: 'Time from request arrival until the response is fully written (a proxied body to its last byte; a WebSocket until its handshake is passed upstream), by route name.',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.whoamiRequests = new Counter({
      name: 'kratos_gateway_whoami_requests_total',
      help: 'Calls to Kratos /sessions/whoami, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.whoamiDuration = new Histogram({
      name: 'kratos_gateway_whoami_duration_seconds',
      help: 'Latency of Kratos /sessions/whoami calls.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'kratos_gateway_session_cache_lookups_total',
      help: 'Session cache lookups, by result.',
      labelNames: ['result'],
      registers,
    });
    this.cacheEntries = new Gauge({
      name: 'kratos_gateway_session_cache_entries',
      help: 'Entries in the session cache (positive and negative).',
      registers,
      collect() {
        this.set(cacheSize());
      },
    });
    this.upstreamErrors = new Counter({
      name: 'kratos_gateway_upstream_errors_total',
      help: 'Upstream failures, by route name and kind.',
      labelNames: ['route', 'kind'],
      registers,
    });
    this.kratosUp = new Gauge({
      name: 'kratos_gateway_kratos_up',
      help: '1 when Kratos answered its last /health/alive check from this gateway with 200, else 0.',
      registers,
      collect: async () => {
        await this.kratosUpRefresh?.();
      },
    });
    // The info-metric idiom: constant 1, the facts in labels, joinable onto any other series.
    new Gauge({
      name: 'kratos_gateway_build_info',
      help: 'Always 1; the version of kratos-gateway and of Node.js that this process runs.',
      labelNames: ['version', 'node_version'],
      registers,
    })
      .labels(VERSION, NODE_VERSION)
      .set(1);
    this.configReloads = new Counter({
      name: 'kratos_gateway_config_reloads_total',
      help: 'Configuration reloads (SIGHUP or a change of the file), by result: applied, or rejected (the running configuration kept).',
      labelNames: ['result'],
      registers,
    });
    this.configReloads.labels('applied').inc(0);
    this.configReloads.labels('rejected').inc(0);
    this.configInfo = new Gauge({
      name: 'kratos_gateway_config_info',
      help: 'Always 1; hash is the short sha256 of the configuration being served.',
      labelNames: ['hash'],
      registers,
    });
    // Pre-create the series dashboards alert on, so they read 0 rather than "absent"; the
    // children are kept so the hot path never calls labels().
    this.cacheLookupSeries = {
      hit: this.cacheLookups.labels('hit'),
      miss: this.cacheLookups.labels('miss'),
      coalesced: this.cacheLookups.labels('coalesced'),
      negative_hit: this.cacheLookups.labels('negative_hit'),
    };
    for (const series of Object.values(this.cacheLookupSeries)) series.inc(0);
    for (const o of ['active', 'unauthorized', 'error', 'rate_limited'] as const) this.whoamiRequests.labels(o).inc(0);
  }

  /**
   * Label children are looked up once per (route, method, status): prom-client's labels()
   * hashes its arguments on every call, which cost 6 µs per proxied request.
   */
  private readonly requestSeries = new Map<string, Map<number, RequestSeries>>();

  request(route: string, method: string, status: number, seconds: number, protocol: Protocol = 'http1'): void {
    // Looked up by route, then by a number: no key string is built per request.
    const methodIndex = METHOD_INDEX.get(method) ?? 0;
    let byRoute = this.requestSeries.get(route);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.requestSeries.set(route, byRoute);
    }
    const key = (status * 16 + methodIndex) * 4 + PROTOCOL_INDEX[protocol];
    let series = byRoute.get(key);
    if (series === undefined) {
      series = {
        count: this.requests.labels(route, METHOD_LABEL[methodIndex]!, String(status), protocol),
        duration: this.duration.labels(route),
      };
      byRoute.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** The configuration with this hash is now served (at start and after each applied reload). */
  configLoaded(hash: string): void {
    this.configInfo.reset();
    this.configInfo.labels(hash).set(1);
  }

  configReload(result: 'applied' | 'rejected'): void {
    this.configReloads.labels(result).inc();
  }

  whoami(outcome: WhoamiOutcome, seconds: number): void {
    this.whoamiRequests.labels(outcome).inc();
    this.whoamiDuration.observe(seconds);
  }

  cacheLookup(result: CacheLookupResult): void {
    this.cacheLookupSeries[result].inc();
  }

  /**
   * The shared session cache's series, registered on first use: a gateway without one
   * (session_cache.shared off) exports neither, rather than a 0 that would look like an outage.
   */
  sharedCache(): { up(up: boolean): void; invalidation(direction: 'published' | 'received'): void } {
    if (this.sharedCacheSeries === undefined) {
      const registers = [this.registry];
      const up = new Gauge({
        name: 'kratos_gateway_shared_cache_up',
        help: '1 while the shared session cache (Redis) is reachable, subscribed, and its user may run every command the gateway sends, else 0 (then entries are capped at session_cache.shared.degraded_ttl_cap_ms).',
        registers,
      });
      up.set(0);
      const invalidations = new Counter({
        name: 'kratos_gateway_invalidations_total',
        help: 'Session cache invalidations through the shared cache: published by this instance, or received from another.',
        labelNames: ['direction'],
        registers,
      });
      invalidations.labels('published').inc(0);
      invalidations.labels('received').inc(0);
      this.sharedCacheSeries = { up, invalidations };
    }
    const series = this.sharedCacheSeries;
    return {
      up: (isUp) => series.up.set(isUp ? 1 : 0),
      invalidation: (direction) => series.invalidations.labels(direction).inc(),
    };
  }

  upstreamError(route: string, kind: UpstreamErrorKind): void {
    this.upstreamErrors.labels(route, kind).inc();
  }

  /** Created on first use: a gateway without the embedded identity server never exports it. */
  private identityRestartsCounter: Counter | undefined;

  /** The embedded identity thread's restarts; called with 0 when it starts, so the series reads 0 rather than absent. */
  identityRestarts(n = 1): void {
    this.identityRestartsCounter ??= new Counter({
      name: 'kratos_gateway_identity_restarts_total',
      help: 'Restarts of the embedded identity server thread after it died (a thread that restarted and is running again).',
      registers: [this.registry],
    });
    this.identityRestartsCounter.inc(n);
  }

  /** Created on first use: a gateway without `session_cache.revalidate_after_ms` never exports it. */
  private revalidations: Counter<'outcome'> | undefined;

  /** One background re-check of a cached session (session_cache.revalidate_after_ms) and what it found. */
  revalidation(outcome: RevalidationOutcome): void {
    this.revalidations ??= new Counter({
      name: 'kratos_gateway_session_revalidations_total',
      help: 'Background whoami re-checks of cached sessions older than session_cache.revalidate_after_ms, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.revalidations.labels(outcome).inc();
  }
}

/** `active`: still a session (entry renewed); `revoked`: no longer one (entry dropped fleet-wide); `step_up`: needs aal2 now; `error`: Kratos gave no answer (entry kept); `elsewhere`: another instance is re-checking it. */
export type RevalidationOutcome = 'active' | 'revoked' | 'step_up' | 'error' | 'elsewhere';
