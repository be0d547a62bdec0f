import type { AuthMode, HeaderMapping, RouteConfig, UpstreamProtocol } from '../../config/schema.js';
import {
  comparedMethod,
  differsRaw,
  endsWithSlash,
  exactKey,
  foldCase,
  hasUpperCase,
  looseKey,
  matchForm,
  pathPattern,
  rawKey,
  type PathPattern,
  type Reading,
} from '../../config/route-match.js';
import { CorsPolicy } from './cors-policy.js';
import { hostMatches, parseHostPattern, type HostPattern } from '../../config/host-pattern.js';

/** A route as the hot path uses it: matchers compiled, upstream parsed. */
export interface Route {
  readonly name: string;
  readonly auth: AuthMode;
  readonly upstream: URL;
  readonly upstreamProtocol: UpstreamProtocol;
  /** Upstream base path without trailing slash ('' for none). */
  readonly upstreamBasePath: string;
  /** strip_prefix in the match form (config/route-match.ts), and how many segments it has. */
  readonly stripPrefix: string | undefined;
  readonly stripSegments: number;
  readonly identityHeaders: ReadonlyArray<readonly [header: string, valuePath: string]>;
  readonly onUnauthenticated: RouteConfig['on_unauthenticated'];
  /** Only on an `http1` route: WebSocket upgrades are HTTP/1.1 (RFC 8441, WebSockets over HTTP/2, is not supported). */
  readonly websocket: boolean;
  readonly timeoutMs: number;
  /** `cors`: preflights answered by the gateway, CORS headers on every answer (cors-policy.ts, pipeline/cors.ts). */
  readonly cors: CorsPolicy | undefined;
}

interface CompiledRoute {
  readonly route: Route;
  readonly index: number;
  /** The same host patterns, read and matched the same way, as kratos_instances' `hosts`. */
  readonly host: { readonly kind: 'any' } | HostPattern;
  readonly methods: ReadonlySet<string> | undefined;
}

/** A route's pattern in one reading (config/route-match.ts), with its rank there. */
interface Candidate {
  readonly r: CompiledRoute;
  readonly path: PathPattern;
  /** Sort key, more specific first: host, literal length, prefix before glob, method list. */
  readonly rank: number;
}

/**
 * A path whose spelling decides the route: the readings of it (config/route-match.ts: as
 * written, ignoring a trailing slash, ignoring letter case) select different routes, so which
 * handler serves it depends on how the upstream routes. Refused (400) rather than guessed.
 */
export const AMBIGUOUS = 'ambiguous';

/** A Host header as host tables compare it: lower case, no port, no trailing dot (IPv6 literals keep their brackets). */
export function normalizeHost(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  let h = hostHeader.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * The route table. Most specific match wins, deterministically: exact host before
 * `*.suffix` (longer first) before any host; then the longer literal path; then a prefix
 * before a glob; then a route without `format_suffix`; then routes with a method list; then
 * configuration order. Paths compare in each reading of config/route-match.ts, and every
 * reading must select the same route. Two routes that match exactly the same requests are a
 * start-up error, never a run-time 500 (Oathkeeper's "Expected exactly one rule").
 */
export class RouteTable {
  private readonly readings: Record<Reading, Candidate[]>;
  /** Some glob ends in `/`: the loose reading differs from the exact one on every path. */
  private readonly slashGlobs: boolean;
  private readonly upperCasePatterns: boolean;
  /** Some pattern reads differently raw (an escape, a character a path carries escaped). */
  private readonly rawPatterns: boolean;

  constructor(configs: readonly RouteConfig[], globalHeaders: HeaderMapping) {
    // The configuration was validated (config/route-rules.ts): no two routes match the same
    // requests, names are unique, strip prefixes fit, upstreams carry no query or credentials.
    const routes = configs.map((c, index) => compile(c, index, globalHeaders));
    const candidates = (reading: Reading) =>
      configs.map((c, i) => candidate(c, routes[i]!, reading)).sort((a, b) => b.rank - a.rank || a.r.index - b.r.index);
    this.readings = { exact: candidates('exact'), loose: candidates('loose'), folded: candidates('folded'), raw: candidates('raw') };
    this.slashGlobs = configs.some((c) => c.match.path_glob !== undefined && endsWithSlash(c.match.path_glob));
    this.upperCasePatterns = configs.some((c) => hasUpperCase(matchForm(c.match.path_glob ?? c.match.path_prefix!)));
    this.rawPatterns = configs.some((c) => differsRaw(c.match));
  }

  /** Most specific first (as the exact reading ranks them). */
  get all(): readonly Route[] {
    return this.readings.exact.map((c) => c.r.route);
  }

  /** A route by its name (names are unique: route-rules.ts), for a front door that names the route (ext_authz). */
  named(name: string): Route | undefined {
    return (this.byName ??= new Map(this.all.map((r) => [r.name, r]))).get(name);
  }
  private byName: Map<string, Route> | undefined;

  /**
   * The route for a canonical path (request-target.ts), undefined when none matches, or
   * AMBIGUOUS. HEAD is matched as GET.
   */
  match(hostHeader: string | undefined, canonicalPath: string, method: string): Route | undefined | typeof AMBIGUOUS {
    const chosen = this.choose(normalizeHost(hostHeader), comparedMethod(method), canonicalPath);
    return chosen === AMBIGUOUS ? chosen : chosen?.route;
  }

  /** The route every reading selects, or AMBIGUOUS when they differ. */
  private choose(host: string, method: string | undefined, canonicalPath: string): CompiledRoute | undefined | typeof AMBIGUOUS {
    const exact = exactKey(canonicalPath);
    const chosen = this.find('exact', host, method, exact);
    const loose = looseKey(exact);
    // A reading can only choose differently where it reads the path or a pattern differently.
    if ((loose !== exact || this.slashGlobs) && this.find('loose', host, method, loose) !== chosen) return AMBIGUOUS;
    const folds = this.upperCasePatterns || hasUpperCase(loose);
    if (folds && this.find('folded', host, method, foldCase(loose)) !== chosen) return AMBIGUOUS;
    // Raw, only an escape the match form decodes reads differently (the canonical path has no other).
    if ((this.rawPatterns || canonicalPath !== exact) && this.find('raw', host, method, rawKey(canonicalPath)) !== chosen) {
      return AMBIGUOUS;
    }
    return chosen;
  }

  /** The most specific matching route in one reading: the first, in rank order. */
  private find(reading: Reading, host: string, method: string | undefined, key: string): CompiledRoute | undefined {
    const candidates = this.readings[reading];
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      const r = c.r;
      if (method !== undefined && r.methods !== undefined && !r.methods.has(method)) continue;
      const h = r.host;
      if (h.kind !== 'any' && !hostMatches(h, host)) continue;
      if (c.path.test(key)) return r;
    }
    return undefined;
  }

  /**
   * The route for a request whose method is unknown: the one `match` returns for every method,
   * METHOD_DECIDES when the choice could differ by method, or AMBIGUOUS. The best route for the
   * host and path regardless of methods decides: without a method list it wins for every
   * method (a route with one would rank above it); with one, it wins only for its methods.
   */
  matchAnyMethod(hostHeader: string | undefined, canonicalPath: string): Route | undefined | typeof METHOD_DECIDES | typeof AMBIGUOUS {
    const chosen = this.choose(normalizeHost(hostHeader), undefined, canonicalPath);
    if (chosen === undefined || chosen === AMBIGUOUS) return chosen;
    return chosen.methods === undefined ? chosen.route : METHOD_DECIDES;
  }
}

/** `RouteTable.matchAnyMethod`: which route matches depends on the request method. */
export const METHOD_DECIDES = Symbol('the route depends on the method');

/**
 * Specificity as one number, compared field by field in this order: host, literal length,
 * prefix before glob, without `format_suffix` before with, a method list. The host rank is
 * below 2^22 and a literal length below 2^29, so the sum stays an exact integer.
 */
function candidate(c: RouteConfig, r: CompiledRoute, reading: Reading): Candidate {
  const h = r.host;
  const hostRank = h.kind === 'exact' ? 2_000_000 : h.kind === 'suffix' ? 1_000_000 + h.suffix.length : 0;
  const path = pathPattern(c.match, reading);
  const rank =
    hostRank * 2 ** 32 +
    path.literalLength * 8 +
    (c.match.path_glob === undefined ? 4 : 0) +
    (c.match.format_suffix === true ? 0 : 2) +
    (r.methods ? 1 : 0);
  return { r, path, rank };
}

function compile(c: RouteConfig, index: number, globalHeaders: HeaderMapping): CompiledRoute {
  const host: CompiledRoute['host'] = c.match.host === undefined ? { kind: 'any' } : parseHostPattern(c.match.host);
  const upstream = new URL(c.upstream);
  // Compared with comparedMethod(): HEAD as GET (route-rules.ts refuses HEAD without GET).
  const methods = c.match.methods ? new Set(c.match.methods) : undefined;
  const mapping = c.identity_headers ?? globalHeaders;
  return {
    index,
    host,
    methods,
    route: {
      name: c.name,
      auth: c.auth,
      upstream,
      upstreamProtocol: c.upstream_protocol,
      upstreamBasePath: upstream.pathname.replace(/\/+$/, ''),
      stripPrefix: c.strip_prefix === undefined ? undefined : matchForm(c.strip_prefix),
      stripSegments: c.strip_prefix === undefined ? 0 : c.strip_prefix.split('/').length - 1,
      identityHeaders: Object.entries(mapping).map(([h, p]) => [h.toLowerCase(), p] as const),
      onUnauthenticated: c.on_unauthenticated,
      websocket: c.websocket && c.upstream_protocol === 'http1',
      timeoutMs: c.timeout_ms,
      cors: c.cors === undefined ? undefined : new CorsPolicy(c.cors),
    },
  };
}

/**
 * The path sent upstream: the canonical path, minus the strip prefix, under the upstream's base
 * path. The prefix is removed by segments compared in the match form, as the route matched
 * (`/v1%3Ax/y` loses the prefix `/v1:x`).
 */
export function upstreamPath(route: Route, canonicalPath: string, search: string): string {
  let p = canonicalPath;
  if (route.stripPrefix !== undefined) {
    let end = 0;
    for (let i = 0; i < route.stripSegments && end !== -1; i++) end = p.indexOf('/', end + 1);
    const head = end === -1 ? p : p.slice(0, end);
    if (matchForm(head) === route.stripPrefix) p = end === -1 ? '/' : p.slice(end);
  }
  return route.upstreamBasePath + p + search;
}
