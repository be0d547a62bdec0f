import type { AuthMode, HeaderMapping, RouteConfig } from '../../config/schema.js';
import {
  comparedMethod,
  foldCase,
  globPattern,
  hasUpperCase,
  Matched,
  matchForm,
  pathKey,
  prefixPattern,
  type PathPattern,
} from '../../config/route-match.js';

/** A route as the hot path uses it: matchers compiled, upstream parsed. */
export interface Route {
  readonly name: string;
  readonly auth: AuthMode;
  readonly upstream: URL;
  /** Upstream base path without trailing slash ('' for none). */
  readonly upstreamBasePath: string;
  /** strip_prefix in the match form (config/route-match.ts), and how many segments it has. */
  readonly stripPrefix: string | undefined;
  readonly stripSegments: number;
  readonly identityHeaders: ReadonlyArray<readonly [header: string, valuePath: string]>;
  readonly onUnauthenticated: RouteConfig['on_unauthenticated'];
  readonly websocket: boolean;
  readonly timeoutMs: number;
}

interface CompiledRoute {
  readonly route: Route;
  readonly index: number;
  readonly host: { kind: 'any' } | { kind: 'exact'; name: string } | { kind: 'suffix'; suffix: string };
  /** Tests a path key (config/route-match.ts), exactly and letter case-folded. */
  readonly path: PathPattern;
  readonly foldedPath: PathPattern;
  readonly methods: ReadonlySet<string> | undefined;
  /** Sort key, more specific first: host, literal length, prefix before glob, matched as is, method list. */
  readonly rank: number;
  /** The rank of a match only with a `/` appended (config/route-match.ts). */
  readonly rankWithSlash: number;
}

/**
 * A path whose letter case decides the route: the exact comparison selects one route (or none)
 * and the case-folded one another, so which handler serves it depends on whether the upstream
 * folds case. Refused (400) rather than guessed.
 */
export const CASE_AMBIGUOUS = 'case_ambiguous';

function normalizeHost(hostHeader: string | undefined): string {
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
 * before a glob; then a match as is before one with a `/` appended; then routes with a method
 * list; then configuration order. Paths compare in the match form (config/route-match.ts). Two
 * routes that match exactly the same requests are a start-up error, never a run-time 500
 * (Oathkeeper's "Expected exactly one rule").
 */
export class RouteTable {
  private readonly routes: CompiledRoute[];
  private readonly upperCasePatterns: boolean;

  constructor(configs: readonly RouteConfig[], globalHeaders: HeaderMapping) {
    // The configuration was validated (config/route-rules.ts): no two routes match the same
    // requests, names are unique, strip prefixes fit, upstreams carry no query or credentials.
    this.routes = configs.map((c, index) => compile(c, index, globalHeaders));
    this.routes.sort((a, b) => b.rank - a.rank || a.index - b.index);
    this.upperCasePatterns = this.routes.some((r) => r.path.hasUpperCase);
  }

  get all(): readonly Route[] {
    return this.routes.map((r) => r.route);
  }

  /**
   * The route for a canonical path (request-target.ts), undefined when none matches, or
   * CASE_AMBIGUOUS. HEAD is matched as GET.
   */
  match(hostHeader: string | undefined, canonicalPath: string, method: string): Route | undefined | typeof CASE_AMBIGUOUS {
    const host = normalizeHost(hostHeader);
    const m = comparedMethod(method);
    const key = pathKey(canonicalPath);
    const chosen = this.choose(host, m, key);
    return chosen === CASE_AMBIGUOUS ? chosen : chosen?.route;
  }

  /** The same choice made exactly and letter case-folded, or CASE_AMBIGUOUS when they differ. */
  private choose(host: string, method: string | undefined, key: string): CompiledRoute | undefined | typeof CASE_AMBIGUOUS {
    const exact = this.find(host, method, key, false);
    // Folding can only change the outcome when there is a letter to fold.
    if (!this.upperCasePatterns && !hasUpperCase(key)) return exact;
    const folded = this.find(host, method, foldCase(key), true);
    return exact === folded ? exact : CASE_AMBIGUOUS;
  }

  /**
   * The most specific matching route. A glob that matches only with a `/` appended ranks as
   * if that `/` were not literal, and after a route that matches as it is: `/api/v1` is the
   * prefix `/api/v1`'s before it is `/api/v1/*`'s. The routes are sorted by their rank when
   * matching as they are, which no route exceeds: the scan stops at the first that cannot win.
   */
  private find(host: string, method: string | undefined, key: string, folded: boolean): CompiledRoute | undefined {
    let best: CompiledRoute | undefined;
    let bestRank = -1;
    for (const r of this.routes) {
      if (r.rank < bestRank) break;
      if (method !== undefined && r.methods !== undefined && !r.methods.has(method)) continue;
      const h = r.host;
      if (h.kind === 'exact' ? host !== h.name : h.kind === 'suffix' ? !host.endsWith(h.suffix) : false) continue;
      const how = (folded ? r.foldedPath : r.path).test(key);
      if (how === Matched.No) continue;
      const rank = how === Matched.AsIs ? r.rank : r.rankWithSlash;
      if (rank > bestRank || (rank === bestRank && r.index < best!.index)) {
        best = r;
        bestRank = rank;
      }
    }
    return best;
  }

  /**
   * The route for a request whose method is unknown: the one `match` returns for every method,
   * METHOD_DECIDES when the choice could differ by method, or CASE_AMBIGUOUS. The best route
   * for the host and path regardless of methods decides: without a method list it wins for every
   * method (a route with one would rank above it); with one, it wins only for its methods.
   */
  matchAnyMethod(hostHeader: string | undefined, canonicalPath: string): Route | undefined | typeof METHOD_DECIDES | typeof CASE_AMBIGUOUS {
    const chosen = this.choose(normalizeHost(hostHeader), undefined, pathKey(canonicalPath));
    if (chosen === undefined || chosen === CASE_AMBIGUOUS) return chosen;
    return chosen.methods === undefined ? chosen.route : METHOD_DECIDES;
  }
}

/** `RouteTable.matchAnyMethod`: which route matches depends on the request method. */
export const METHOD_DECIDES = Symbol('the route depends on the method');

/**
 * Specificity as one number, compared field by field in this order: host, literal length,
 * prefix before glob, a match as it is before one with a `/` appended, a method list. The host
 * rank is below 2^22 and a literal length below 2^29, so the sum stays an exact integer.
 */
function rankOf(host: number, literal: number, prefix: boolean, asIs: boolean, methods: boolean): number {
  return host * 2 ** 32 + literal * 8 + (prefix ? 4 : 0) + (asIs ? 2 : 0) + (methods ? 1 : 0);
}

function compile(c: RouteConfig, index: number, globalHeaders: HeaderMapping): CompiledRoute {
  const hostSpec = c.match.host?.toLowerCase();
  const host: CompiledRoute['host'] =
    hostSpec === undefined
      ? { kind: 'any' }
      : hostSpec.startsWith('*.')
        ? { kind: 'suffix', suffix: hostSpec.slice(1) }
        : { kind: 'exact', name: hostSpec };
  const hostRank = host.kind === 'exact' ? 2_000_000 : host.kind === 'suffix' ? 1_000_000 + host.suffix.length : 0;

  const glob = c.match.path_glob;
  const pattern = (fold: boolean) => (glob !== undefined ? globPattern(glob, fold) : prefixPattern(c.match.path_prefix!, fold));
  const path = pattern(false);

  const upstream = new URL(c.upstream);
  // Compared with comparedMethod(): HEAD as GET (route-rules.ts refuses HEAD without GET).
  const methods = c.match.methods ? new Set(c.match.methods) : undefined;
  const mapping = c.identity_headers ?? globalHeaders;
  return {
    index,
    host,
    path,
    foldedPath: pattern(true),
    methods,
    rank: rankOf(hostRank, path.literalLength, glob === undefined, true, methods !== undefined),
    rankWithSlash: rankOf(hostRank, Math.max(0, path.literalLength - 1), false, false, methods !== undefined),
    route: {
      name: c.name,
      auth: c.auth,
      upstream,
      upstreamBasePath: upstream.pathname.replace(/\/+$/, ''),
      stripPrefix: c.strip_prefix === undefined ? undefined : matchForm(c.strip_prefix),
      stripSegments: c.strip_prefix === undefined ? 0 : c.strip_prefix.split('/').length - 1,
      identityHeaders: Object.entries(mapping).map(([h, p]) => [h.toLowerCase(), p] as const),
      onUnauthenticated: c.on_unauthenticated,
      websocket: c.websocket,
      timeoutMs: c.timeout_ms,
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
