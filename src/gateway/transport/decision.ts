/**
 * Forward-auth decision API (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz):
 * "may this request pass, and as whom?". The same evaluation as the proxy
 * (pipeline/evaluate.ts) on the original request; this writer answers 200 with the identity
 * headers, or the refusal.
 *
 * The original request comes from, in order:
 *  - `X-Original-URI` / `X-Original-Method` (nginx auth_request); 400 when `X-Forwarded-Uri`
 *    or `-Method` come with it (one of the two is the client's, passed on by the proxy);
 *  - `X-Forwarded-Method/Proto/Host/Uri` (Traefik);
 *  - the decision request itself, path below the prefix (Envoy ext_authz path_prefix).
 * The headers of the first two forms are believed only from a peer in `proxy.trusted_proxies`;
 * from any other peer a request carrying one is a 400. Ignoring them instead would judge the
 * subrequest's own GET, a POST's decision made for a GET (Oathkeeper's decision API trusts
 * X-Forwarded-* from anyone; oauth2-proxy CVE-2026-40575 is that bug). Envoy's form is open to
 * any peer: the peer names the request in its own request line.
 * A request none of them names (the prefix alone, X-Forwarded-* without -Uri) is a 400, never
 * taken to be a request for "/".
 *
 * A CORS preflight for a route with `cors` (that no other route claims as an OPTIONS) is allowed
 * with the CORS headers for the proxy to copy back (pipeline/cors.ts).
 *
 * nginx's auth subrequest and Traefik's ForwardAuth request are GETs whatever the client sent,
 * so in those two forms only the method header names the method. Without it the method is
 * unknown, and where the answer could differ by method the decision is refused (see
 * `methodDecides`) rather than made for a guessed GET. There, too, a method-override header is
 * refused: the proxy passes it on, and the upstream would serve the request as another method.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { jsonErrorAnswer, sendHttpAnswer, sendJsonError, type HttpAnswer } from '../../http/json-error.js';
import { sendLoginRedirect } from './login-redirect.js';
import { evaluate, type PipelineDeps, type Refuse } from '../pipeline/evaluate.js';
import { arrive, createObserver, observeFailure, type ObserverDeps } from '../pipeline/observe.js';
import { WWW_AUTHENTICATE } from '../pipeline/refuse.js';
import { normalizeHeaderName } from '../../http/header-name.js';
import { METHOD_OVERRIDE_HEADERS, type ConfigSnapshot } from '../config-snapshot.js';
import { parseRequestTarget, TargetRejected } from '../request-target.js';
import { METHOD_DECIDES } from '../routing/route-table.js';
import { peerAddress, requestIdOf } from '../../http/request.js';
import { setCorsHeaders } from '../pipeline/cors.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Tracing } from '../../observability/tracing/types.js';

/** What the decision API uses beyond the evaluation's and the observer's needs. */
export interface DecisionDeps extends PipelineDeps, ObserverDeps {
  readonly config: Pick<GatewayConfig, 'admin' | 'log'>;
  /** The current configuration snapshot: read once when a decision request arrives. */
  readonly snapshot: ConfigSnapshot;
  readonly tracing?: Pick<Tracing, 'startRequest' | 'finishRequest'> | undefined;
}

interface OriginalRequest {
  /** Undefined when the header that names it (`methodHeader`) was not sent. */
  method: string | undefined;
  methodHeader: string;
  host: string | undefined;
  rawTarget: string;
  /** Traefik returns the auth response verbatim, so it can carry a login redirect; nginx cannot (it gets the 401 with a Location). */
  mayRedirect: boolean;
}

/**
 * The headers by which a front door names the original request (nginx's, then Traefik's), as
 * Node spells them, and the part of a request line (Envoy's form) that names the same thing:
 * the scheme is not in it.
 */
const NAMING_HEADERS = [
  ['x-original-uri', 'X-Original-URI', 'path'],
  ['x-original-method', 'X-Original-Method', 'method'],
  ['x-forwarded-uri', 'X-Forwarded-Uri', 'path'],
  ['x-forwarded-method', 'X-Forwarded-Method', 'method'],
  ['x-forwarded-host', 'X-Forwarded-Host', 'host'],
  ['x-forwarded-proto', 'X-Forwarded-Proto', undefined],
] as const;

/**
 * The first naming header that says something other than the decision request's own request
 * line (path below the prefix, method, Host) says. An empty method header names no method
 * (methodIn).
 */
function disagreesWithRequestLine(h: IncomingHttpHeaders, line: { path: string; method: string | undefined; host: string | undefined }) {
  for (const [name, spelled, part] of NAMING_HEADERS) {
    const v = h[name];
    if (v === undefined || part === undefined || (part === 'method' && v === '')) continue;
    if (v !== line[part]) return spelled;
  }
  return undefined;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * An HTTP method (RFC 9110 token) in upper case. Methods are case-sensitive and upstreams
 * disagree about `post`: some fold it into POST, others serve it as a method of its own, so
 * neither reading is safe. A header sent twice reaches the gateway as a list (`POST, GET`).
 */
export const METHOD = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/;

/** A method header's value: `{ method: undefined }` when it is absent or empty, an error message when it names no one method. */
function methodIn(v: string | string[] | undefined, header: string): { method: string | undefined } | string {
  const m = single(v);
  if (m === undefined || m === '') return { method: undefined };
  return METHOD.test(m) ? { method: m } : `${header} must be one HTTP method in upper case`;
}

/** The first header the original request carries that would make the upstream serve it as another method. */
function methodOverrideIn(headers: IncomingHttpHeaders): string | undefined {
  for (const name in headers) if (METHOD_OVERRIDE_HEADERS.has(normalizeHeaderName(name))) return name;
  return undefined;
}

/**
 * Whether the answer for a request of unknown method could differ by method: the route chosen
 * depends on it (a route with a method list could match), or an authorizer of the chosen route
 * reads it (a route policy's `methods`). Both were settled per route when the snapshot was
 * built. A target the gateway rejects is left to the evaluation, which refuses it whatever the
 * method.
 */
function methodDecides(s: ConfigSnapshot, host: string | undefined, rawTarget: string): boolean {
  let path: string;
  try {
    path = parseRequestTarget(rawTarget).path;
  } catch (err) {
    if (err instanceof TargetRejected) return false;
    throw err;
  }
  const route = s.routes.matchAnyMethod(host, path);
  // An ambiguous path (route-table.ts) is refused by the evaluation whatever the method.
  return route === METHOD_DECIDES || (typeof route === 'object' && s.methodDependentRoutes.has(route));
}

function originalRequest(s: ConfigSnapshot, req: IncomingMessage, prefix: string): OriginalRequest | string {
  const h = req.headers;
  const naming = NAMING_HEADERS.find(([name]) => h[name] !== undefined);
  if (naming !== undefined && !s.trustedProxies.trusts(req.socket.remoteAddress)) {
    return `${naming[1]} is accepted only from a peer in proxy.trusted_proxies (X-Original-* and X-Forwarded-* name the original request): list the front door's addresses there`;
  }
  const originalUri = single(h['x-original-uri']);
  const traefikNamed = h['x-forwarded-uri'] !== undefined || h['x-forwarded-method'] !== undefined;
  // Envoy names the request by its request line (the path it appends below the prefix, its
  // method and Host) and passes client headers on: a naming header beside it that names any
  // part differently may be the client's, so neither is judged. Comparing the path alone would
  // let a client that copies its path into X-Forwarded-Uri name the host and method.
  const pathNamed = (req.url ?? '').slice(prefix.length);
  const differs = pathNamed.startsWith('/')
    ? disagreesWithRequestLine(h, { path: pathNamed, method: req.method, host: h.host })
    : undefined;
  if (differs !== undefined) {
    return `the decision request's own request line (the path below the prefix, its method and Host) and ${differs} both name the request, differently; the proxy must send only one`;
  }
  if (originalUri !== undefined) {
    // nginx names the request with X-Original-URI and passes the client's own headers on to
    // the decision (a client's X-Forwarded-Uri included); Traefik sets X-Forwarded-Uri/-Method
    // and passes a client's X-Original-URI on. With both, either may be the client's: judging
    // by one could judge a path other than the one proxied, so neither is used.
    if (traefikNamed) return 'X-Original-URI and X-Forwarded-Uri/-Method both name the request; the proxy must send only one';
    // X-Forwarded-Host/-Proto beside it come from whatever is in front of nginx (or the
    // client): the route host is nginx's Host, as without them.
    const named = methodIn(h['x-original-method'], 'X-Original-Method');
    if (typeof named === 'string') return named;
    return { method: named.method, methodHeader: 'X-Original-Method', host: h.host, rawTarget: originalUri, mayRedirect: false };
  }
  if (traefikNamed || h['x-forwarded-host'] !== undefined || h['x-forwarded-proto'] !== undefined) {
    const named = methodIn(h['x-forwarded-method'], 'X-Forwarded-Method');
    if (typeof named === 'string') return named;
    // Traefik always sends it; without it the request is unknown, not a request for "/".
    const uri = single(h['x-forwarded-uri']);
    if (uri === undefined) return NAMES_NO_REQUEST;
    return {
      method: named.method,
      methodHeader: 'X-Forwarded-Method',
      host: single(h['x-forwarded-host']) ?? h.host,
      rawTarget: uri,
      mayRedirect: true,
    };
  }
  // Envoy appends the original path, which starts with "/", to the prefix. The prefix alone
  // (nginx without X-Original-URI) names no request: judged as "/", every request would get the
  // answer of the route for "/".
  if (!pathNamed.startsWith('/')) return NAMES_NO_REQUEST;
  // Envoy's check request has the original request's method.
  return { method: req.method, methodHeader: 'The request method', host: h.host, rawTarget: pathNamed, mayRedirect: false };
}

/**
 * A refusal as the decision API answers it to a front door that does not pass a redirect on
 * (nginx, Envoy; the ext_authz gRPC service too): the status, JSON body and headers.
 */
export function decisionRefusal(outcome: Refuse): HttpAnswer {
  // nginx auth_request fails on anything but 2xx/401/403, so the login URL rides on the 401
  // (auth_request_set … $upstream_http_location) and nginx redirects. The gateway builds it
  // because it validates return_to and nginx cannot URL-encode it.
  if (outcome.location !== undefined)
    return jsonErrorAnswer(401, outcome.message, { location: outcome.location, 'www-authenticate': WWW_AUTHENTICATE });
  // A forbidden browser navigation gets JSON here too: the proxy in front renders its own 403 page.
  return jsonErrorAnswer(outcome.status, outcome.message, outcome.headers, outcome.error);
}

const NAMES_NO_REQUEST =
  'the decision request names no original request: nginx must send X-Original-URI, Traefik X-Forwarded-Uri, Envoy the original path below the prefix';

export function createDecisionHandler(g: DecisionDeps) {
  const prefix = g.config.admin.decisions_prefix;
  const observe = createObserver(g, true);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    // The peer is read now: the socket is detached from the request once the response has finished.
    const a = arrive(req, {
      started: performance.now(),
      requestId,
      peer: peerAddress(req),
      snapshot: g.snapshot,
      path: undefined,
      observed: false,
    });
    const trace = g.tracing?.startRequest(req, 'decision');

    const original = originalRequest(a.snapshot, req, prefix);
    if (typeof original === 'string') {
      sendJsonError(res, 400, original);
      return observe(req, a, 'none', 400);
    }
    let method = original.method;
    // Asked only when it matters (once): it costs a route table scan.
    let dependsOnMethod: boolean | undefined;
    const methodDecidesHere = () => (dependsOnMethod ??= methodDecides(a.snapshot, original.host, original.rawTarget));
    if (method === undefined) {
      if (methodDecidesHere()) {
        sendJsonError(
          res,
          400,
          `${original.methodHeader} is missing: the answer for this request depends on its method ` +
            '(a route with a method list, or a route policy with a methods condition); the proxy must send it',
        );
        return observe(req, a, 'none', 400);
      }
      // Neither the route nor its authorizers depend on the method, so the decision is the same
      // for every method; the method only shapes a refusal (whether a browser navigation gets
      // the login URL), and is taken to be a GET for that, as before.
      method = 'GET';
    }
    // The proxy passes the client's headers on to the upstream, which the gateway cannot strip
    // them from as its own proxy does: where the method matters, a decision for the request
    // line's method would be applied to a request the upstream serves as another.
    const override = methodOverrideIn(req.headers);
    if (override !== undefined && methodDecidesHere()) {
      sendJsonError(
        res,
        400,
        `${override} asks the upstream to serve this request as another method, and the answer for it depends on the method; ` +
          'the proxy must remove the header',
      );
      return observe(req, a, 'none', 400);
    }
    const evaluated = evaluate(
      g,
      a,
      {
        transport: 'decision',
        method,
        host: original.host,
        rawTarget: original.rawTarget,
        headers: req.headers,
      },
      trace,
    );
    // Awaited only when authentication had to ask: a refusal before it is written in this tick.
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;
    // CORS: a preflight is allowed with the headers the front door copies back; every other
    // answer on the route carries the route's CORS headers for it to copy.
    if (outcome.kind === 'preflight') {
      res.writeHead(200, { ...outcome.headers, 'content-length': '0', 'cache-control': 'no-store' });
      res.end();
      return observe(req, a, outcome.route.name, 200);
    }
    if (a.cors !== undefined) setCorsHeaders(res, a.cors);
    if (outcome.kind === 'refuse') {
      // A login or step-up redirect (the location carries `aal=aal2` / `refresh=true` for a step-up).
      if (outcome.location !== undefined && original.mayRedirect) {
        sendLoginRedirect(res, outcome.location);
        return observe(req, a, outcome.route, 302);
      }
      const answer = decisionRefusal(outcome);
      sendHttpAnswer(res, answer);
      return observe(req, a, outcome.route, answer.status);
    }
    if (outcome.kind === 'control') throw new Error('unreachable: the decision API has no control plane');
    const out = outcome.headers as Record<string, string | string[]>;
    if (outcome.setCookie) out['set-cookie'] = outcome.setCookie;
    out['content-length'] = '0';
    out['cache-control'] = 'no-store';
    res.writeHead(200, out);
    res.end();
    observe(req, a, outcome.route.name, 200, outcome.session?.identityId);
  }

  return {
    prefix,
    owns: (path: string) => path === prefix || path.startsWith(prefix + '/') || path.startsWith(prefix + '?'),
    handle(req: IncomingMessage, res: ServerResponse): void {
      handle(req, res).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the decision API');
        sendJsonError(res, 500, 'An internal error occurred');
        observeFailure(observe, req);
      });
    },
  };
}
