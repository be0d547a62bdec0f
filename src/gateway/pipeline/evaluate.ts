/**
 * The one evaluation, read top to bottom. Every proxied request, WebSocket handshake and
 * forward-auth decision goes through these steps in this order; each is one stage:
 *
 *   0. refuse what cannot be framed safely (Transfer-Encoding in anything but HTTP/1.1)
 *   1. canonicalize the path (reject what cannot be made unambiguous)
 *   2. strip protected headers the caller sent — on every route and every outcome (one walk over
 *      the headers, which also notes what step 7 may remove: caller-headers.ts)
 *   3. hand control-plane paths (Kratos mount, UI) to express (HTTP/1.x and HTTP/2)
 *   4. match a route; a CORS preflight for a route with a CORS policy is answered here (cors.ts)
 *   5. authenticate: credential source → session (cache, coalescing) → allow / login / 401 / fail closed
 *   6. authorize: every registered authorizer (route policies): 403, or a step-up to the login flow
 *   7. mutate headers: hop-by-hop and unbelieved forwarding headers out (among the names step 2
 *      noted); every registered mutator (forwarding, identity, credential removal)
 *
 * The result is Forward (what to send upstream) or Refuse (what to answer); the writers in
 * src/gateway/transport turn it into bytes and forward, and pipeline/observe.ts observes.
 * Everything configuration-derived comes from the snapshot `s` the request read on arrival.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { arrivedEncrypted } from '../../http/request.js';
import type { RequestTrace } from '../../observability/tracing/types.js';
import { answersBrowser, authenticate, type Decision, type SessionLookup } from './authenticate.js';
import { stripCallerHeaders, writeUpstreamHeaders } from './caller-headers.js';
import { identityHeaders } from './mutators/identity-headers.js';
import type { ForwardContext } from './mutators/index.js';
import { loginLocationFor, stepUpLocationFor } from '../tenancy/tenant-login.js';
import { parseRequestTarget, TargetRejected, type RequestTarget } from '../request-target.js';
import { AMBIGUOUS, type Route } from '../routing/route-table.js';
import type { SessionSummary } from '../session/session-summary.js';
import type { KratosTenant } from '../tenancy/tenant-table.js';
import type { Arrival } from './observe.js';
import type { AuthorizationRefusal } from './authz/index.js';
import { forbidden, login, refuse, stepUp, stepUpRequired, unauthenticated, unavailable, type Refuse } from './refuse.js';
import { corsPreflight, type Preflight } from './cors.js';

export type { Refuse } from './refuse.js';

/** `http`: HTTP/1.x; `http2`: an HTTP/2 stream; `grpc`: an HTTP/2 stream with a gRPC content type (never sent to a login page). */
export type Transport = 'http' | 'http2' | 'grpc' | 'websocket' | 'decision';

/** The paths the control plane (Kratos mount, self-service UI) answers: step 3 hands them over. */
export interface ControlPaths {
  owns(canonicalPath: string): boolean;
}

/**
 * What the evaluation uses of the process: the session lookup, the control plane's paths, and
 * whether the process is draining. Everything derived from configuration comes from the
 * snapshot the request arrived under (`Arrival.snapshot`), never from here.
 */
export interface PipelineDeps {
  /** The session lookup of each Kratos: the top-level one (undefined) or a tenant's. */
  readonly resolvers: { of(tenant: KratosTenant | undefined): SessionLookup };
  /** Undefined in a process without a control plane (and until it is attached). */
  readonly control: ControlPaths | undefined;
  readonly draining: boolean;
}

export interface EvaluationInput {
  readonly transport: Transport;
  readonly method: string;
  /** The host routes are matched against. */
  readonly host: string | undefined;
  /** The request target as received (or, for the decision API, as the original request named it). */
  readonly rawTarget: string | undefined;
  /** The caller's headers: stripped, then mutated in place into the upstream headers (HTTP, WebSocket). */
  readonly headers: IncomingHttpHeaders;
  /** `req.httpVersion` ('2.0' for HTTP/2), for the framing check; undefined for the decision API's original request. */
  readonly httpVersion?: string;
  /**
   * The route a front door chose for the request (ext_authz `context_extensions`): used as it is,
   * instead of matching one by host, path and method. Envoy's own route table already decided
   * where the request goes.
   */
  readonly route?: Route;
  /** The connection to the gateway is TLS (the X-Forwarded-Proto it sets); false for the decision API. */
  readonly encrypted?: boolean;
}

/** What an HTTP/1.1 request or WebSocket handshake on the proxy listener is evaluated on. */
export function evaluationInput(transport: 'http' | 'websocket', method: string, req: IncomingMessage): EvaluationInput {
  const { headers } = req;
  return {
    transport,
    method,
    host: headers.host,
    rawTarget: req.url,
    headers,
    httpVersion: req.httpVersion,
    encrypted: arrivedEncrypted(req),
  };
}

export interface Forward {
  readonly kind: 'forward';
  readonly route: Route;
  readonly target: RequestTarget;
  readonly session: SessionSummary | undefined;
  /** The headers to send upstream (for the decision API: only the identity headers to return). */
  readonly headers: IncomingHttpHeaders;
  /** A refreshed Kratos cookie from whoami, for the client. */
  readonly setCookie: string[] | undefined;
}

/** A control-plane path (Kratos mount, self-service UI): express answers it. */
export interface Control {
  readonly kind: 'control';
  readonly target: RequestTarget;
}

export type { Preflight } from './cors.js';

export type Outcome = Forward | Refuse | Control | Preflight;

/**
 * Synchronous up to authentication, and all the way on an anonymous route or a cached session
 * (or cached refusal): a refusal before authentication is written in the same tick the request
 * arrived in (a request pipelined behind it must find its connection already marked closing),
 * and neither an anonymous request nor a session cache hit costs a promise.
 */
export function evaluate(g: PipelineDeps, a: Arrival, e: EvaluationInput, trace?: RequestTrace): Outcome | Promise<Outcome> {
  const s = a.snapshot;
  const headers = e.headers;
  const transport = e.transport;

  // 0. Framing the gateway will not forward: see transferEncodingOutsideHttp11.
  if (e.httpVersion !== undefined && headers['transfer-encoding'] !== undefined && e.httpVersion !== '1.1') {
    return refuse('framing', 400, `Transfer-Encoding is not allowed in an HTTP/${e.httpVersion} request`);
  }

  // 1. Canonical path: matched and forwarded as the same string.
  let target: RequestTarget;
  try {
    target = parseRequestTarget(e.rawTarget);
  } catch (err) {
    if (!(err instanceof TargetRejected)) throw err;
    return refuse('bad_request', 400, err.message);
  }
  a.path = target.path;
  trace?.setPath(target.path);

  // 2. No caller-supplied identity survives, whatever happens next. The same walk notes what
  // step 7 removes if the request is forwarded (the decision API forwards nothing).
  const noted = stripCallerHeaders(headers, s.callerHeaders, transport !== 'decision');

  // 3 and 4. Control plane, then the route.
  let route: Route | undefined | typeof AMBIGUOUS;
  if (transport === 'websocket') {
    if (g.draining) return refuse('draining', 503, 'The gateway is shutting down');
    // Only WebSocket upgrades, never h2c or arbitrary protocols (upgrade smuggling).
    if (headers.upgrade?.toLowerCase() !== 'websocket' || e.method !== 'GET')
      return refuse('not_websocket', 400, 'Only WebSocket upgrades are supported');
    route = g.control?.owns(target.path) ? undefined : s.routes.match(e.host, target.path, e.method);
    if (route === AMBIGUOUS) return refuse('bad_request', 400, AMBIGUOUS_MESSAGE);
    if (route === undefined || !route.websocket) return refuse('no_route', 404, 'No WebSocket route matches this request', route?.name);
  } else {
    if (transport !== 'decision' && g.control?.owns(target.path)) return { kind: 'control', target };
    // CORS: a preflight for a route with a CORS policy is answered before authentication (in the
    // decision API, where the allow sends the OPTIONS on, only if no other route claims it).
    const preflight = corsPreflight(s.routes, e.method, e.host, target.path, headers, transport === 'decision');
    if (preflight !== undefined) return preflight;
    route = e.route ?? s.routes.match(e.host, target.path, e.method);
    if (route === AMBIGUOUS) return refuse('bad_request', 400, AMBIGUOUS_MESSAGE);
    // The decision API answers 403: nginx auth_request fails on anything but 2xx/401/403.
    if (route === undefined)
      return transport === 'decision'
        ? refuse('no_route', 403, 'No route matches this request')
        : refuse('no_route', 404, 'No route matches this request');
    // CORS: every answer from here on (the upstream's, or a refusal) carries the route's CORS headers.
    if (route.cors !== undefined) a.cors = route.cors.responseHeaders(headers.origin);
  }

  // 5. Authenticate, against the Kratos of the request's host (kratos_instances: tenancy/).
  // Synchronous on an anonymous route and on a cached session: a Promise only when Kratos (or
  // the store's slower tier) is asked.
  const tenant = s.tenants?.match(e.host);
  const decision = authenticate(route, headers, tenant?.credentialSources ?? s.credentialSources, g.resolvers.of(tenant), trace);
  if (!(decision instanceof Promise)) return authorizeAndMutate(a, e, route, target, decision, noted);
  const r = route;
  return decision.then((d) => authorizeAndMutate(a, e, r, target, d, noted));
}

/** See AMBIGUOUS. */
const AMBIGUOUS_MESSAGE =
  'This path matches one route as written and another ignoring its trailing slash or letter case; upstreams differ on which applies';

/**
 * An authorizer's refusal as a descriptor. A browser (see answersBrowser) is sent to the login
 * flow, with `aal=aal2` or `refresh=true` for a step-up; an API client gets 401 (no session)
 * or 403 with a machine-readable id.
 */
function authorizationRefusal(a: Arrival, e: EvaluationInput, route: Route, target: RequestTarget, r: AuthorizationRefusal): Refuse {
  const browser = answersBrowser(route, e.transport, e.method, e.headers.accept);
  if (r.remedy === undefined) return forbidden(route.name, r.message, browser);
  if (r.remedy === 'login')
    return browser ? login(route.name, loginLocationFor(a.snapshot, a.peer, e.headers, e.host, target)) : unauthenticated(route.name);
  if (!browser) return stepUp(route.name, r.remedy, r.message, undefined);
  const location = loginLocationFor(a.snapshot, a.peer, e.headers, e.host, target);
  const param = r.remedy === 'aal2' ? 'aal=aal2' : 'refresh=true';
  return stepUp(route.name, r.remedy, r.message, `${location}${location.includes('?') ? '&' : '?'}${param}`);
}

function authorizeAndMutate(
  a: Arrival,
  e: EvaluationInput,
  route: Route,
  target: RequestTarget,
  decision: Decision,
  noted: readonly string[] | undefined,
): Outcome {
  const s = a.snapshot;
  const headers = e.headers;
  const transport = e.transport;
  if (decision.kind === 'unavailable') return unavailable(route.name, decision.resolution);
  if (decision.kind === 'unauthenticated') {
    if (answersBrowser(route, transport, e.method, headers.accept))
      return login(route.name, loginLocationFor(s, a.peer, headers, e.host, target));
    return unauthenticated(route.name);
  }
  if (decision.kind === 'step_up') {
    // Written like a login redirect (302; the decision API's 401 with Location), to Kratos's
    // step-up URL once validated. An API or WebSocket client: 403 with the error id.
    if (answersBrowser(route, transport, e.method, headers.accept))
      return login(route.name, stepUpLocationFor(s, a.peer, headers, e.host, target, decision.stepUp.redirectBrowserTo));
    return stepUpRequired(route.name, decision.stepUp.reason);
  }

  // 6. Authorize.
  for (const authorizer of s.authorizers) {
    const refusal = authorizer.authorize({ route, method: e.method, path: target.path, session: decision.session });
    if (refusal !== undefined) return authorizationRefusal(a, e, route, target, refusal);
  }

  // 7. Headers for the upstream.
  const ctx: ForwardContext = {
    route,
    session: decision.session,
    credentialKind: decision.credentialKind,
    requestId: a.requestId,
    peerAddress: a.peer,
    peerTrusted: transport !== 'decision' && s.trustedProxies.trusts(a.peer),
    encrypted: e.encrypted === true,
  };
  let upstream: IncomingHttpHeaders;
  if (transport === 'decision') {
    // The decision API returns the identity headers (and the assertion, like Oathkeeper's
    // mutators) for the proxy to copy; nothing else is mutated.
    upstream = {};
    identityHeaders.mutate(upstream, ctx);
    s.assertion?.mutate(upstream, ctx);
  } else {
    // Expect (HTTP/1.1, HTTP/2): answered by the writer; undici refuses to send it.
    writeUpstreamHeaders(headers, noted, s.callerHeaders, ctx, transport === 'websocket', transport !== 'websocket');
    upstream = headers;
  }
  return { kind: 'forward', route, target, session: decision.session, headers: upstream, setCookie: decision.setCookie };
}
