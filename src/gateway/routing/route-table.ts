import { methodSet } from '../../config/methods.js';
import type { AuthMode, HeaderMapping, RouteConfig } from '../../config/schema.js';

/** A route as the hot path uses it: matchers compiled, upstream parsed. */
export interface Route {
  readonly name: string;
  readonly auth: AuthMode;
  readonly upstream: URL;
  /** Upstream base path without trailing slash ('' for none). */
  readonly upstreamBasePath: string;
  readonly stripPrefix: string | undefined;
  readonly identityHeaders: ReadonlyArray<readonly [header: string, valuePath: string]>;
  readonly onUnauthenticated: RouteConfig['on_unauthenticated'];
  readonly websocket: boolean;
  readonly timeoutMs: number;
}

interface CompiledRoute {
  readonly route: Route;
  readonly index: number;
  readonly host: { kind: 'any' } | { kind: 'exact'; name: string } | { kind: 'suffix'; suffix: string };
  readonly path: (p: string) => boolean;
  readonly methods: ReadonlySet<string> | undefined;
  /** Sort key: more specific first. */
  readonly rank: readonly number[];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `*` matches within one segment, `**` any number of whole segments. Anchored at both ends. */
function globMatcher(glob: string): { test: (p: string) => boolean; literalLength: number } {
  let re = '^';
  let literal = 0;
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('/**', i)) {
      re += '(?:/[^/]*)*';
      i += 2;
    } else if (glob[i] === '*') {
      re += '[^/]*';
    } else {
      re += escapeRegex(glob[i]!);
      literal++;
    }
  }
  const regex = new RegExp(re + '$');
  return { test: (p) => regex.test(p), literalLength: literal };
}

function prefixMatcher(prefix: string): (p: string) => boolean {
  if (prefix === '/') return () => true;
  const withSlash = prefix + '/';
  return (p) => p === prefix || p.startsWith(withSlash);
}

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
 * `*.suffix` (longer first) before any host; then the longer literal path; then routes with
 * a method list; then configuration order. Two routes that match exactly the same requests
 * are a start-up error, never a run-time 500 (Oathkeeper's "Expected exactly one rule").
 */
export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(configs: readonly RouteConfig[], globalHeaders: HeaderMapping) {
    // The configuration was validated (config/route-rules.ts): no two routes match the same
    // requests, names are unique, strip prefixes fit, upstreams carry no query or credentials.
    this.routes = configs.map((c, index) => compile(c, index, globalHeaders));
    this.routes.sort((a, b) => {
      for (let i = 0; i < a.rank.length; i++) {
        const d = b.rank[i]! - a.rank[i]!;
        if (d !== 0) return d;
      }
      return a.index - b.index;
    });
  }

  get all(): readonly Route[] {
    return this.routes.map((r) => r.route);
  }

  match(hostHeader: string | undefined, path: string, method: string): Route | undefined {
    const host = normalizeHost(hostHeader);
    for (const r of this.routes) {
      if (r.methods !== undefined && !r.methods.has(method)) continue;
      if (matchesHostAndPath(r, host, path)) return r.route;
    }
    return undefined;
  }

  /**
   * The route for a request whose method is unknown: the one `match` returns for every method,
   * or METHOD_DECIDES when the choice could differ by method. Routes are tried most specific
   * first, so the first one matching the host and path decides: without a method list it wins
   * for every method (the routes after it are never reached); with one, it wins for its methods
   * and a later route (or none) for the others.
   */
  matchAnyMethod(hostHeader: string | undefined, path: string): Route | typeof METHOD_DECIDES | undefined {
    const host = normalizeHost(hostHeader);
    const first = this.routes.find((r) => matchesHostAndPath(r, host, path));
    if (first === undefined) return undefined;
    return first.methods === undefined ? first.route : METHOD_DECIDES;
  }
}

/** `RouteTable.matchAnyMethod`: which route matches depends on the request method. */
export const METHOD_DECIDES = Symbol('the route depends on the method');

function matchesHostAndPath(r: CompiledRoute, host: string, path: string): boolean {
  const h = r.host;
  if (h.kind === 'exact' ? host !== h.name : h.kind === 'suffix' ? !host.endsWith(h.suffix) : false) return false;
  return r.path(path);
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

  let path: (p: string) => boolean;
  let literalLength: number;
  if (c.match.path_glob !== undefined) {
    const g = globMatcher(c.match.path_glob);
    path = g.test;
    literalLength = g.literalLength;
  } else {
    const prefix = c.match.path_prefix!;
    path = prefixMatcher(prefix);
    literalLength = prefix === '/' ? 0 : prefix.length;
  }

  const upstream = new URL(c.upstream);
  const methods = c.match.methods ? methodSet(c.match.methods) : undefined;
  const mapping = c.identity_headers ?? globalHeaders;
  return {
    index,
    host,
    path,
    methods,
    rank: [hostRank, literalLength, c.match.path_glob !== undefined ? 0 : 1, methods ? 1 : 0],
    route: {
      name: c.name,
      auth: c.auth,
      upstream,
      upstreamBasePath: upstream.pathname.replace(/\/+$/, ''),
      stripPrefix: c.strip_prefix,
      identityHeaders: Object.entries(mapping).map(([h, p]) => [h.toLowerCase(), p] as const),
      onUnauthenticated: c.on_unauthenticated,
      websocket: c.websocket,
      timeoutMs: c.timeout_ms,
    },
  };
}

/** The path sent upstream: the canonical path, minus the strip prefix, under the upstream's base path. */
export function upstreamPath(route: Route, canonicalPath: string, search: string): string {
  let p = canonicalPath;
  if (route.stripPrefix !== undefined && (p === route.stripPrefix || p.startsWith(route.stripPrefix + '/'))) {
    p = p.slice(route.stripPrefix.length);
    if (p === '') p = '/';
  }
  return route.upstreamBasePath + p + search;
}
