/**
 * `routes[].cors.allowed_origins`: which origins a route's CORS policy answers. Origins are
 * compared as the URL parser serializes them, never as strings someone wrote: a configured entry
 * must already be written as a serialized origin (so `https://App.example.com`,
 * `https://a.example.com:443` and `https://a.example.com/` are configuration errors that name
 * the spelling meant), and a request's `Origin` is allowed only when it is one serialized origin
 * (a path, a query, userinfo, a second value or letter case the parser would change make it
 * no origin at all).
 *
 * Three forms:
 *  - `*`: any origin (never together with credentials: see corsProblems);
 *  - an exact origin, `https://app.example.com[:port]`;
 *  - `https://*.example.com[:port]`: scheme and port exact, and `*` is exactly one DNS label, as
 *    in a TLS certificate: `https://a.example.com` matches, `https://example.com` and
 *    `https://a.b.example.com` do not (list `https://*.b.example.com` for those).
 *
 * The `null` origin (sandboxed frames, `file:` pages, cross-origin redirects: anyone can make a
 * browser send it) is never allowed, not even by `*`, and cannot be listed.
 */
import type { RouteConfig } from './schema.js';

export type OriginPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly origin: string }
  /** `suffix` starts with "."; `port` is '' for the scheme's default port (as URL.port has it). */
  | { readonly kind: 'subdomain'; readonly protocol: string; readonly suffix: string; readonly port: string };

const ORIGIN_FORM = 'must be "*" or an origin such as https://app.example.com or https://*.example.com';

/** A configured entry, or why it is not one. */
export function parseOriginPattern(entry: string): OriginPattern | string {
  if (entry === '*') return { kind: 'any' };
  if (entry === 'null') return 'is never allowed: any page can make a browser send it (sandboxed frames, file: pages, redirects)';
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    return ORIGIN_FORM;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${ORIGIN_FORM} (http or https)`;
  // What the parser would send as the Origin of a page there; anything it changes or drops
  // (case, a default port, a path, a query) would never be matched as written.
  const serialized = `${u.protocol}//${u.host}`;
  if (entry !== serialized) {
    return u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== ''
      ? `${ORIGIN_FORM}: an origin has no path, query, fragment or credentials`
      : `is not written as browsers send it; write "${serialized}"`;
  }
  const host = u.hostname;
  if (!host.includes('*')) return { kind: 'exact', origin: serialized };
  const suffix = host.slice(1);
  if (!host.startsWith('*.') || suffix.includes('*'))
    return 'may use "*" only as the whole first label of the host (https://*.example.com)';
  // `*.com` would let every .com site in; two labels at least (a public suffix such as co.uk
  // cannot be told apart here, so that stays the writer's care).
  if (suffix.split('.').length < 3) return 'needs at least two labels after "*." (https://*.example.com, not https://*.com)';
  return { kind: 'subdomain', protocol: u.protocol, suffix, port: u.port };
}

/** The compiled `allowed_origins` of one route. */
export class OriginMatcher {
  private readonly any: boolean;
  private readonly exact: ReadonlySet<string>;
  private readonly subdomains: ReadonlyArray<Extract<OriginPattern, { kind: 'subdomain' }>>;

  /** Entries validated by corsProblems; an invalid one would throw here. */
  constructor(entries: readonly string[]) {
    const patterns = entries.map((entry) => {
      const p = parseOriginPattern(entry);
      if (typeof p === 'string') throw new Error(`invalid allowed origin "${entry}": ${p}`);
      return p;
    });
    this.any = patterns.some((p) => p.kind === 'any');
    this.exact = new Set(patterns.flatMap((p) => (p.kind === 'exact' ? [p.origin] : [])));
    this.subdomains = patterns.flatMap((p) => (p.kind === 'subdomain' ? [p] : []));
  }

  /** Whether a request's `Origin` header value is allowed. */
  allows(origin: string): boolean {
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false;
    }
    // Only one serialized http(s) origin, exactly as the parser writes it (an opaque origin,
    // such as "null" or another scheme's, serializes as "null" and never equals the header).
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || `${u.protocol}//${u.host}` !== origin) return false;
    if (this.any || this.exact.has(origin)) return true;
    const host = u.hostname;
    for (const p of this.subdomains) {
      if (u.protocol !== p.protocol || u.port !== p.port || !host.endsWith(p.suffix)) continue;
      const label = host.slice(0, host.length - p.suffix.length);
      if (label !== '' && !label.includes('.')) return true;
    }
    return false;
  }
}

/** One `routes.N.cors…: reason` line per problem. */
export function corsProblems(routes: readonly RouteConfig[]): string[] {
  const problems: string[] = [];
  routes.forEach((route, i) => {
    const cors = route.cors;
    if (cors === undefined) return;
    cors.allowed_origins.forEach((entry, j) => {
      const p = parseOriginPattern(entry);
      if (typeof p === 'string') problems.push(`routes.${i}.cors.allowed_origins.${j}: "${entry}" ${p}`);
    });
    if (cors.allow_credentials && cors.allowed_origins.includes('*')) {
      problems.push(
        `routes.${i}.cors.allowed_origins: "*" cannot be combined with allow_credentials: true ` +
          '(every site could read signed-in answers); list the origins',
      );
    }
  });
  return problems;
}
