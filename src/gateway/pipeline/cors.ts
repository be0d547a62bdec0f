/**
 * A route's CORS policy (`routes[].cors`) at request time.
 *
 * - A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) for a route with a
 *   policy is answered by the gateway, anonymously: no Kratos call, no upstream. The route is the
 *   one the request the browser asks about would take (matched with the requested method), so a
 *   route with a method list answers the preflights for its methods. Everything allowed → the
 *   allow headers; anything not (origin, method, a header) → none of them, and the browser
 *   refuses the request. An OPTIONS without both headers is an ordinary request.
 * - Every other answer on such a route (the upstream's, and the gateway's own 401/403/429/503/
 *   302/502/504) carries, for an allowed origin, `Access-Control-Allow-Origin` (the origin
 *   echoed), `-Allow-Credentials` and `-Expose-Headers`; for any origin, `Vary: Origin`, since
 *   the answer depends on it. The upstream's own `Access-Control-*` headers are replaced: the
 *   route's policy is the one browsers see.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Route, RouteTable } from '../routing/route-table.js';
import { single, type HeaderMap } from '../routing/cors-policy.js';

export type { HeaderMap } from '../routing/cors-policy.js';

/** A preflight the gateway answers: 204 from the proxy, 200 from the decision API (the headers for the front door to copy). */
export interface Preflight {
  readonly kind: 'preflight';
  readonly route: Route;
  readonly headers: Readonly<HeaderMap>;
}

/**
 * The preflight the gateway answers, or undefined: not a preflight, or the route the browser
 * asks about has no CORS policy (then it is an ordinary OPTIONS request).
 *
 * `passedOn`: an answered preflight is an allow that sends the OPTIONS itself on to the
 * application (the decision API). Then another route that matches the OPTIONS decides it as
 * an ordinary request: the preflight of one route must not let an anonymous OPTIONS through
 * where another route requires a session.
 */
export function corsPreflight(
  routes: RouteTable,
  method: string,
  host: string | undefined,
  path: string,
  headers: IncomingHttpHeaders,
  passedOn: boolean,
): Preflight | undefined {
  if (method !== 'OPTIONS') return undefined;
  const origin = single(headers.origin);
  const requested = single(headers['access-control-request-method']);
  if (origin === undefined || requested === undefined || requested === '') return undefined;
  const route = routes.match(host, path, requested);
  if (typeof route !== 'object' || route.cors === undefined) return undefined;
  if (passedOn && requested !== 'OPTIONS') {
    const own = routes.match(host, path, 'OPTIONS');
    if (own !== undefined && own !== route) return undefined;
  }
  return { kind: 'preflight', route, headers: route.cors.preflightHeaders(origin, requested, headers['access-control-request-headers']) };
}

/** `Access-Control-*` names: on a route with a policy, the upstream's are dropped for the route's. */
const isCorsHeader = (name: string) => name.startsWith('access-control-');

/**
 * An upstream answer's headers (lower-case names) on a route with a policy: its own CORS headers
 * dropped and `Origin` added to its `Vary` (kept: it says what else the answer depends on). The
 * route's CORS headers are already set on the response (see setCorsHeaders) and fill the gaps.
 */
export function replaceUpstreamCors(out: Record<string, string | string[]>): void {
  for (const name in out) if (isCorsHeader(name)) delete out[name];
  const vary = out.vary;
  if (vary === undefined) return;
  const tokens = (Array.isArray(vary) ? vary.join(',') : vary).split(',').map((t) => t.trim().toLowerCase());
  if (tokens.includes('*') || tokens.includes('origin')) return;
  out.vary = Array.isArray(vary) ? [...vary, 'Origin'] : `${vary}, Origin`;
}

/** Sets the route's CORS headers on a response before whichever answer is written. */
export function setCorsHeaders(res: { setHeader(name: string, value: string): unknown }, headers: Readonly<HeaderMap>): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
}
