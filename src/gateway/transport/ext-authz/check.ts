/**
 * Envoy's external authorization over gRPC, `envoy.service.auth.v3.Authorization/Check`: the
 * HTTP decision API's evaluation and answers, in Envoy's messages.
 *
 * The original request is `attributes.request.http` (method, path, host, headers): Envoy names
 * it whole, so none of the decision API's guessing of the form is needed. The peer is Envoy;
 * `X-Forwarded-*` among the headers are believed (for the login URL's return_to) only when
 * Envoy's address is in `proxy.trusted_proxies`, as by the decision API.
 *
 * `context_extensions` (set per route in Envoy's configuration) may name the gateway route with
 * the key `route`: that route is used instead of matching one. A name the gateway does not have
 * is refused.
 *
 * Every evaluation ends in a CheckResponse, never an RPC error: Envoy turns an RPC error into an
 * allow when `failure_mode_allow` is set. So Kratos unreachable is UNAVAILABLE with a denied 503,
 * and an unforeseen failure INTERNAL with a denied 500. Only a call that is not a CheckRequest at
 * all (a broken client, not a client's request) is an RPC error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { DecisionDeps } from '../decision.js';
import type { HeaderMap } from '../../pipeline/cors.js';
import { evaluate, type Forward } from '../../pipeline/evaluate.js';
import { createObserver, type Arrival } from '../../pipeline/observe.js';
import { normalizeHeaderName } from '../../../http/header-name.js';
import { isProtectedHeader } from '../../pipeline/strip-protected-headers.js';
import { jsonErrorAnswer, type HttpAnswer } from '../../../http/json-error.js';
import { requestIdOf, type RequestHead } from '../../../http/request.js';
import { GrpcStatus } from '../../../http/grpc-protocol.js';
import { GrpcError, type UnaryCall, type UnaryMethod } from '../../../http/grpc-unary.js';
import { decisionRefusal, METHOD } from '../decision.js';
import {
  APPEND_IF_EXISTS_OR_ADD,
  decodeCheckRequest,
  encodeCheckResponse,
  OVERWRITE_IF_EXISTS_OR_ADD,
  type CheckRequest,
  type CheckResponse,
  type HeaderValueOption,
  type HttpRequest,
} from './messages.js';

/** The `context_extensions` key that names the gateway route for the request. */
export const ROUTE_EXTENSION = 'route';

/** The CheckResponse status for a refusal's HTTP status. */
export function grpcStatusOf(httpStatus: number): number {
  if (httpStatus === 401) return GrpcStatus.UNAUTHENTICATED;
  if (httpStatus === 403) return GrpcStatus.PERMISSION_DENIED;
  if (httpStatus === 429 || httpStatus === 503) return GrpcStatus.UNAVAILABLE;
  if (httpStatus === 400) return GrpcStatus.INVALID_ARGUMENT;
  if (httpStatus >= 500) return GrpcStatus.INTERNAL;
  return GrpcStatus.PERMISSION_DENIED;
}

/**
 * The original request's headers as the HTTP decision API would have them: without Envoy's
 * pseudo-headers (`:authority`, `:path`, …), which an HTTP/1.1 request does not have. With
 * `encode_raw_headers`, a name sent more than once is merged as Envoy merges it otherwise
 * (`cookie` with `; `, others with `,`); raw bytes are read as Node reads HTTP/1.1 headers (latin1).
 */
export function originalHeaders(http: HttpRequest | null): IncomingHttpHeaders {
  // No prototype: a header named `__proto__` is an ordinary name here.
  const out = Object.create(null) as Record<string, string>;
  if (http === null) return out;
  const add = (key: string, value: string) => {
    const name = key.toLowerCase();
    if (name.startsWith(':')) return;
    const had = out[name];
    out[name] = had === undefined ? value : `${had}${name === 'cookie' ? '; ' : ','}${value}`;
  };
  const raw = http.header_map?.headers ?? [];
  if (raw.length > 0) {
    for (const h of raw)
      add(h.key, h.raw_value !== undefined && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? ''));
  } else {
    for (const key in http.headers) add(key, http.headers[key]!);
  }
  return out;
}

const option = (key: string, value: string, append_action: number): HeaderValueOption => ({
  header: { key, value },
  append_action,
  // A header set to '' must still replace the client's copy, not be dropped.
  keep_empty_value: true,
});

function denied(answer: HttpAnswer, message: string, cors: Readonly<HeaderMap> | undefined): CheckResponse {
  return {
    status: { code: grpcStatusOf(answer.status), message },
    denied_response: {
      status: { code: answer.status },
      headers: Object.entries({ ...answer.headers, ...cors }).map(([k, v]) => option(k, v, OVERWRITE_IF_EXISTS_OR_ADD)),
      body: answer.body,
    },
  };
}

/**
 * The identity headers (and the assertion) overwrite the client's copies; every other protected
 * header the client sent, in whatever spelling, is removed; a refreshed session cookie goes to
 * the client with the response.
 */
function allowed(
  outcome: Pick<Forward, 'headers' | 'setCookie'>,
  callerProtected: readonly string[],
  cors: Readonly<HeaderMap> | undefined,
): CheckResponse {
  const headers: HeaderValueOption[] = [];
  const set = new Set<string>();
  for (const [name, value] of Object.entries(outcome.headers)) {
    if (value === undefined) continue;
    set.add(name.toLowerCase());
    headers.push(option(name, Array.isArray(value) ? value.join(', ') : value, OVERWRITE_IF_EXISTS_OR_ADD));
  }
  return {
    status: { code: GrpcStatus.OK },
    ok_response: {
      headers,
      headers_to_remove: callerProtected.filter((name) => !set.has(name.toLowerCase())),
      response_headers_to_add: [
        ...(outcome.setCookie ?? []).map((c) => option('set-cookie', c, APPEND_IF_EXISTS_OR_ADD)),
        // The route's CORS headers go on the upstream's answer, replacing any it sets itself.
        ...Object.entries(cors ?? {}).map(([k, v]) => option(k, v, OVERWRITE_IF_EXISTS_OR_ADD)),
      ],
    },
  };
}

export function createExtAuthzCheck(g: DecisionDeps): UnaryMethod {
  const observe = createObserver(g, true);

  async function check(request: CheckRequest, head: RequestHead, a: Arrival): Promise<CheckResponse> {
    const http = request.attributes?.request?.http ?? null;
    if (http === null || !METHOD.test(http.method)) {
      observe(head, a, 'none', 400);
      return denied(
        jsonErrorAnswer(400, 'The check request names no HTTP request'),
        'attributes.request.http must name the method in upper case',
        undefined,
      );
    }
    const s = a.snapshot;
    const routeName = request.attributes?.context_extensions[ROUTE_EXTENSION];
    const route = routeName === undefined ? undefined : s.routes.named(routeName);
    if (routeName !== undefined && route === undefined) {
      g.logger.warn({ route: routeName }, `ext_authz: context_extensions ${ROUTE_EXTENSION} names no route of the gateway; refused`);
      observe(head, a, 'none', 403);
      return denied(jsonErrorAnswer(403, 'No route matches this request'), 'context_extensions names no route', undefined);
    }
    const headers = head.headers;
    // Read before the evaluation strips them.
    const callerProtected = Object.keys(headers).filter((name) => isProtectedHeader(normalizeHeaderName(name), s.protectedHeaderNames));
    const trace = g.tracing?.startRequest(head, 'decision');
    const evaluated = evaluate(
      g,
      a,
      {
        transport: 'decision',
        method: http.method,
        host: http.host === '' ? headers.host : http.host,
        rawTarget: http.path,
        headers,
        route,
      },
      trace,
    );
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;
    if (outcome.kind === 'control') throw new Error('unreachable: the decision API has no control plane');
    // A CORS preflight is allowed anonymously; Envoy sends it on and puts the headers on the answer.
    if (outcome.kind === 'preflight') {
      observe(head, a, outcome.route.name, 200);
      return allowed({ headers: {}, setCookie: undefined }, callerProtected, outcome.headers);
    }
    if (outcome.kind === 'refuse') {
      const answer = decisionRefusal(outcome);
      observe(head, a, outcome.route, answer.status);
      return denied(answer, outcome.message, a.cors);
    }
    observe(head, a, outcome.route.name, 200, outcome.session?.identityId);
    return allowed(outcome, callerProtected, a.cors);
  }

  return async (bytes: Buffer, call: UnaryCall): Promise<Uint8Array> => {
    let request: CheckRequest;
    try {
      request = decodeCheckRequest(bytes);
    } catch (err) {
      throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `The request is not a CheckRequest (${(err as Error).message})`);
    }
    const http = request.attributes?.request?.http ?? null;
    const headers = originalHeaders(http);
    const head: RequestHead = { method: http?.method || 'GET', headers };
    const a: Arrival = {
      started: performance.now(),
      requestId: requestIdOf(head),
      peer: call.peer,
      snapshot: g.snapshot,
      path: undefined,
      observed: false,
      protocol: 'grpc', // the Check call itself came over gRPC
    };
    try {
      return encodeCheckResponse(await check(request, head, a));
    } catch (err) {
      g.logger.error(
        { err: { message: (err as Error).message, stack: (err as Error).stack } },
        'unexpected error in the ext_authz service',
      );
      observe(head, a, 'none', 500);
      return encodeCheckResponse(denied(jsonErrorAnswer(500, 'An internal error occurred'), 'An internal error occurred', undefined));
    }
  };
}
