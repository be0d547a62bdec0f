/**
 * CORS on the public port, as Kratos v0.6 does it: cmd/daemon/serve.go wraps the whole public
 * handler in github.com/rs/cors v1.6.0 when serve.public.cors.enabled is true. This is that
 * handler's behaviour, rule for rule, so a single-page app written against Kratos gets the same
 * answers here (the `cors` npm package differs: it reflects origins with its own matching, does
 * not check requested headers or methods, and answers preflights differently):
 *
 * - A preflight is an OPTIONS request with an Access-Control-Request-Method header. It is answered
 *   here with 200 and no body (unless options_passthrough), whatever it asks: always
 *   `Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers`, and the
 *   Access-Control-Allow-* headers only when the origin, the method and every requested header
 *   are allowed.
 * - Any other request except OPTIONS gets `Vary: Origin`, and, from an allowed origin with an
 *   allowed method, Access-Control-Allow-Origin, -Expose-Headers and -Allow-Credentials.
 * - Origins compare case-insensitively; `*` in the list allows every origin (answered with
 *   `Access-Control-Allow-Origin: *`, also with credentials, as rs/cors does), and so does an
 *   empty list; an entry with one `*` matches any origin that starts with the part before it
 *   and ends with the part after it.
 * - An empty method list means GET, POST and HEAD; OPTIONS is always allowed. An empty header
 *   list means Origin, Accept, Content-Type and X-Requested-With; otherwise Origin is added, and
 *   `*` allows every header. Header names compare in Go's canonical form.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsSettings {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
  allowCredentials: boolean;
  /** Seconds a browser may cache a preflight answer; 0 sends no Access-Control-Max-Age. */
  maxAge: number;
  /** Hand preflights on to the server's own routes instead of answering them here. */
  optionsPassthrough: boolean;
}

/** A header to add to the response, in order (Vary is added once per value, as Go's Header.Add does). */
export type HeaderLine = [name: string, value: string];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Go's http.CanonicalHeaderKey: `x-session-token` → `X-Session-Token`; a name with other characters stays as it is. */
export function canonicalHeaderKey(name: string): string {
  if (!TOKEN.test(name)) return name;
  let upper = true;
  let out = '';
  for (const c of name) {
    out += upper ? c.toUpperCase() : c.toLowerCase();
    upper = c === '-';
  }
  return out;
}

/**
 * rs/cors's parseHeaderList: the names in Access-Control-Request-Headers, split on commas and
 * spaces, with every character but letters, digits, `-` and `_` dropped, and each letter after
 * the start, a `-` or a `_` upper-cased, every other one lower-cased.
 */
export function parseHeaderList(list: string): string[] {
  const headers: string[] = [];
  let h = '';
  let upper = true;
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    if (/[a-z]/.test(b)) h += upper ? b.toUpperCase() : b;
    else if (/[A-Z]/.test(b)) h += upper ? b : b.toLowerCase();
    else if (/[-_0-9]/.test(b)) h += b;
    if (b === ' ' || b === ',' || i === list.length - 1) {
      if (h.length > 0) {
        headers.push(h);
        h = '';
        upper = true;
      }
    } else {
      upper = b === '-' || b === '_';
    }
  }
  return headers;
}

export class Cors {
  private readonly allOrigins: boolean;
  private readonly origins: string[] = [];
  private readonly wildcards: Array<{ prefix: string; suffix: string }> = [];
  private readonly allHeaders: boolean;
  private readonly headers: string[];
  private readonly methods: string[];
  private readonly exposed: string[];

  /** `log` receives rs/cors's debug lines (serve.public.cors.debug); without it nothing is logged. */
  constructor(
    private readonly settings: CorsSettings,
    private readonly log?: (line: string) => void,
  ) {
    this.exposed = settings.exposedHeaders.map(canonicalHeaderKey);
    let all = settings.allowedOrigins.length === 0;
    for (const entry of settings.allowedOrigins) {
      const origin = entry.toLowerCase();
      if (origin === '*') {
        all = true;
        break;
      }
      const star = origin.indexOf('*');
      if (star >= 0) this.wildcards.push({ prefix: origin.slice(0, star), suffix: origin.slice(star + 1) });
      else this.origins.push(origin);
    }
    this.allOrigins = all;
    this.allHeaders = settings.allowedHeaders.includes('*');
    this.headers =
      settings.allowedHeaders.length === 0
        ? ['Origin', 'Accept', 'Content-Type', 'X-Requested-With']
        : [...settings.allowedHeaders, 'Origin'].map(canonicalHeaderKey);
    this.methods = settings.allowedMethods.length === 0 ? ['GET', 'POST', 'HEAD'] : settings.allowedMethods.map((m) => m.toUpperCase());
  }

  isOriginAllowed(origin: string): boolean {
    if (this.allOrigins) return true;
    const o = origin.toLowerCase();
    if (this.origins.includes(o)) return true;
    return this.wildcards.some((w) => o.length >= w.prefix.length + w.suffix.length && o.startsWith(w.prefix) && o.endsWith(w.suffix));
  }

  isMethodAllowed(method: string): boolean {
    const m = method.toUpperCase();
    return m === 'OPTIONS' || this.methods.includes(m);
  }

  private areHeadersAllowed(requested: string[]): boolean {
    if (this.allHeaders || requested.length === 0) return true;
    return requested.every((h) => this.headers.includes(canonicalHeaderKey(h)));
  }

  /** The headers a preflight gets; `origin` and the request headers as sent (first value of each). */
  preflight(origin: string, requestMethod: string, requestHeaders: string): HeaderLine[] {
    const out: HeaderLine[] = [
      ['Vary', 'Origin'],
      ['Vary', 'Access-Control-Request-Method'],
      ['Vary', 'Access-Control-Request-Headers'],
    ];
    if (origin === '') return this.aborted(out, 'Preflight aborted: empty origin');
    if (!this.isOriginAllowed(origin)) return this.aborted(out, `Preflight aborted: origin '${origin}' not allowed`);
    if (!this.isMethodAllowed(requestMethod)) return this.aborted(out, `Preflight aborted: method '${requestMethod}' not allowed`);
    const headers = parseHeaderList(requestHeaders);
    if (!this.areHeadersAllowed(headers)) return this.aborted(out, `Preflight aborted: headers '[${headers.join(' ')}]' not allowed`);
    out.push(['Access-Control-Allow-Origin', this.allOrigins ? '*' : origin]);
    out.push(['Access-Control-Allow-Methods', requestMethod.toUpperCase()]);
    if (headers.length > 0) out.push(['Access-Control-Allow-Headers', headers.join(', ')]);
    if (this.settings.allowCredentials) out.push(['Access-Control-Allow-Credentials', 'true']);
    if (this.settings.maxAge > 0) out.push(['Access-Control-Max-Age', String(this.settings.maxAge)]);
    this.log?.(`  Preflight response headers: ${JSON.stringify(out)}`);
    return out;
  }

  /** The headers any other request gets (none for OPTIONS without Access-Control-Request-Method). */
  actual(method: string, origin: string): HeaderLine[] {
    if (method === 'OPTIONS') return this.aborted([], `  Actual request no headers added: method == ${method}`);
    const out: HeaderLine[] = [['Vary', 'Origin']];
    if (origin === '') return this.aborted(out, '  Actual request no headers added: missing origin');
    if (!this.isOriginAllowed(origin)) return this.aborted(out, `  Actual request no headers added: origin '${origin}' not allowed`);
    if (!this.isMethodAllowed(method)) return this.aborted(out, `  Actual request no headers added: method '${method}' not allowed`);
    out.push(['Access-Control-Allow-Origin', this.allOrigins ? '*' : origin]);
    if (this.exposed.length > 0) out.push(['Access-Control-Expose-Headers', this.exposed.join(', ')]);
    if (this.settings.allowCredentials) out.push(['Access-Control-Allow-Credentials', 'true']);
    this.log?.(`  Actual response added headers: ${JSON.stringify(out)}`);
    return out;
  }

  /**
   * rs/cors's Handler in front of a server: adds the headers, and answers a preflight itself
   * (returns true) unless options_passthrough hands it on. Returns false when the request goes on.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    // Go's Header.Get: the first value of a repeated header.
    const first = (name: string) => req.headersDistinct[name]?.[0] ?? '';
    const requestMethod = first('access-control-request-method');
    const preflight = req.method === 'OPTIONS' && requestMethod !== '';
    this.log?.(preflight ? 'Handler: Preflight request' : 'Handler: Actual request');
    const lines = preflight
      ? this.preflight(first('origin'), requestMethod, first('access-control-request-headers'))
      : this.actual(req.method ?? '', first('origin'));
    for (const [name, value] of lines) {
      if (name === 'Vary') res.appendHeader(name, value);
      else res.setHeader(name, value);
    }
    if (!preflight || this.settings.optionsPassthrough) return false;
    res.writeHead(200);
    res.end();
    return true;
  }

  private aborted(out: HeaderLine[], line: string): HeaderLine[] {
    this.log?.(line.startsWith(' ') ? line : `  ${line}`);
    return out;
  }
}
