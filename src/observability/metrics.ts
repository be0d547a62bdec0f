/**
 * Prometheus metrics, one registry per gateway instance (tests run several in a process).
 * Labels are route names, method and status: never identity ids or raw paths. With
 * `kratos_instances`, the whoami and session cache series also carry `kratos`: the instance's
 * name, or `default` for the top-level kratos (only configured names: bounded cardinality).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NODE_VERSION, VERSION } from '../version.js';
import { DEFAULT_KRATOS } from '../config/kratos-instances.js';

const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'] as const;
/** Method label → 1…9; anything else is `OTHER` (0). Fewer than 16, so `status * 16 + index` is unique. */
const METHOD_INDEX = new Map<string, number>(KNOWN_METHODS.map((m, i) => [m, i + 1]));
const METHOD_LABEL: readonly string[] = ['OTHER', ...KNOWN_METHODS];

interface RequestSeries {
  count: { inc(): void };
  duration: { observe(v: number): void };
}

const CACHE_LOOKUP_RESULTS = ['hit', 'miss', 'coalesced', 'negative_hit'] as const;
const WHOAMI_OUTCOMES = ['active', 'unauthorized', 'error', 'rate_limited'] as const;
export type CacheLookupResult = (typeof CACHE_LOOKUP_RESULTS)[number];
export type WhoamiOutcome = (typeof WHOAMI_OUTCOMES)[number];

interface KratosSeries {
  lookups: Record<CacheLookupResult, { inc(n?: number): void }>;
  whoami: Record<WhoamiOutcome, { inc(n?: number): void }>;
  duration: { observe(v: number): void };
}
/** What a request came over: HTTP/1.x, HTTP/2 over TLS, HTTP/2 with prior knowledge, or gRPC (over either HTTP/2). */
export type Protocol = 'http1' | 'h2' | 'h2c' | 'grpc';
const PROTOCOL_INDEX: Readonly<Record<Protocol, number>> = { http1: 0, h2: 1, h2c: 2, grpc: 3 };

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'websocket';

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status' | 'protocol'>;
  private readonly duration: Histogram<'route'>;
  /** Per Kratos (DEFAULT_KRATOS and each of kratos_instances): the children the hot path increments. */
  private readonly kratosSeries = new Map<string, KratosSeries>();
  private readonly upstreamErrors: Counter<'route' | 'kind'>;
  private readonly configReloads: Counter<'result'>;
  private readonly configInfo: Gauge<'hash'>;
  readonly cacheEntries: Gauge;
  readonly kratosUp: Gauge;
  private sharedCacheSeries: { up: Gauge; invalidations: Counter<'direction'> } | undefined;
  /** Set by the admin listener's Kratos health check; a scrape refreshes a stale value. */
  kratosUpRefresh: (() => Promise<void>) | undefined;

  /** `kratosInstances`: the names of kratos_instances; none: the whoami and cache series have no `kratos` label. */
  constructor(cacheSize: () => number, kratosInstances: readonly string[] = []) {
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
    const perKratos = kratosInstances.length > 0;
    const kratosLabel = perKratos ? (['kratos'] as const) : [];
    const whoamiRequests = new Counter({
      name: 'kratos_gateway_whoami_requests_total',
      help: perKratos
        ? 'Calls to Kratos /sessions/whoami, by Kratos instance and outcome.'
        : 'Calls to Kratos /sessions/whoami, by outcome.',
      labelNames: [...kratosLabel, 'outcome'],
      registers,
    });
    const whoamiDuration = new Histogram({
      name: 'kratos_gateway_whoami_duration_seconds',
      help: perKratos ? 'Latency of Kratos /sessions/whoami calls, by Kratos instance.' : 'Latency of Kratos /sessions/whoami calls.',
      labelNames: kratosLabel,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const cacheLookups = new Counter({
      name: 'kratos_gateway_session_cache_lookups_total',
      help: perKratos ? 'Session cache lookups, by Kratos instance and result.' : 'Session cache lookups, by result.',
      labelNames: [...kratosLabel, 'result'],
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
    for (const kratos of perKratos ? [DEFAULT_KRATOS, ...kratosInstances] : [DEFAULT_KRATOS]) {
      const at = perKratos ? { kratos } : {};
      const lookups = Object.fromEntries(
        CACHE_LOOKUP_RESULTS.map((result) => [result, cacheLookups.labels({ ...at, result })]),
      ) as KratosSeries['lookups'];
      const whoami = Object.fromEntries(
        WHOAMI_OUTCOMES.map((outcome) => [outcome, whoamiRequests.labels({ ...at, outcome })]),
      ) as KratosSeries['whoami'];
      for (const series of [...Object.values(lookups), ...Object.values(whoami)]) series.inc(0);
      this.kratosSeries.set(kratos, { lookups, whoami, duration: perKratos ? whoamiDuration.labels(at) : whoamiDuration });
    }
  }

  private seriesOf(kratos: string | undefined): KratosSeries {
    // Only configured names reach here (a resolver is built per configured instance).
    return this.kratosSeries.get(kratos ?? DEFAULT_KRATOS)!;
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

  /** `kratos`: the instance asked (one of kratos_instances), undefined for the top-level kratos. */
  whoami(outcome: WhoamiOutcome, seconds: number, kratos?: string): void {
    const series = this.seriesOf(kratos);
    series.whoami[outcome].inc();
    series.duration.observe(seconds);
  }

  cacheLookup(result: CacheLookupResult, kratos?: string): void {
    this.seriesOf(kratos).lookups[result].inc();
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
