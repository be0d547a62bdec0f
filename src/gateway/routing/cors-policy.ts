/**
 * A route's CORS policy (`routes[].cors`), compiled once per configuration: which origins,
 * methods and headers it allows, and the headers its answers carry. The request-time step that
 * uses it is pipeline/cors.ts.
 */
import { OriginMatcher } from '../../config/cors-origins.js';
import type { RouteConfig } from '../../config/schema.js';

type CorsConfig = NonNullable<RouteConfig['cors']>;
export type HeaderMap = Record<string, string>;

const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
const NOT_ALLOWED: Readonly<HeaderMap> = { vary: 'Origin' };
const PREFLIGHT_REFUSED: Readonly<HeaderMap> = { vary: PREFLIGHT_VARY };

/** One value of a header: one sent twice (an array, or a set-cookie-like list) names none. */
export function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

export class CorsPolicy {
  private readonly origins: OriginMatcher;
  private readonly methods: ReadonlySet<string>;
  /** Lower case: header names compare case-insensitively. */
  private readonly headers: ReadonlySet<string>;
  private readonly credentials: boolean;
  private readonly allowMethods: string;
  private readonly allowHeaders: string | undefined;
  private readonly exposeHeaders: string | undefined;
  private readonly maxAge: string | undefined;

  constructor(c: CorsConfig) {
    this.origins = new OriginMatcher(c.allowed_origins);
    this.methods = new Set(c.allowed_methods);
    this.headers = new Set(c.allowed_headers.map((h) => h.toLowerCase()));
    this.credentials = c.allow_credentials;
    this.allowMethods = c.allowed_methods.join(', ');
    this.allowHeaders = c.allowed_headers.length > 0 ? c.allowed_headers.join(', ') : undefined;
    this.exposeHeaders = c.exposed_headers.length > 0 ? c.exposed_headers.join(', ') : undefined;
    this.maxAge = c.max_age_s === undefined ? undefined : String(c.max_age_s);
  }

  /** The headers every non-preflight answer on the route carries for this `Origin`. */
  responseHeaders(origin: string | string[] | undefined): Readonly<HeaderMap> {
    const o = single(origin);
    if (o === undefined || !this.origins.allows(o)) return NOT_ALLOWED;
    const out: HeaderMap = { 'access-control-allow-origin': o, vary: 'Origin' };
    if (this.credentials) out['access-control-allow-credentials'] = 'true';
    if (this.exposeHeaders !== undefined) out['access-control-expose-headers'] = this.exposeHeaders;
    return out;
  }

  /** The answer to a preflight: the allow headers when origin, method and every requested header are allowed, otherwise none. */
  preflightHeaders(origin: string, method: string, requestHeaders: string | string[] | undefined): Readonly<HeaderMap> {
    if (!this.origins.allows(origin) || !this.methods.has(method)) return PREFLIGHT_REFUSED;
    // A comma-separated list (browsers send lower case); sent twice, Node joins the values with ", ".
    const requested = (Array.isArray(requestHeaders) ? requestHeaders.join(',') : (requestHeaders ?? ''))
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    if (requested.some((h) => !this.headers.has(h))) return PREFLIGHT_REFUSED;
    const out: HeaderMap = {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': this.allowMethods,
      vary: PREFLIGHT_VARY,
    };
    if (this.allowHeaders !== undefined) out['access-control-allow-headers'] = this.allowHeaders;
    if (this.credentials) out['access-control-allow-credentials'] = 'true';
    if (this.maxAge !== undefined) out['access-control-max-age'] = this.maxAge;
    return out;
  }
}
