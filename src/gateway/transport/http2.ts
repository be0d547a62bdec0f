/**
 * The HTTP/2 writer: every stream on the proxy port (h2c or, behind the TLS front, h2) runs the
 * one evaluation (pipeline/evaluate.ts) and its outcome is written onto the stream — a
 * refusal (in gRPC form for a gRPC request), the control-plane hand-off, or the forwarded
 * upstream response. Streams are handled through the `stream` event, not the compatibility
 * API, which would build a request and a response object per stream; only control-plane
 * paths (express) get those.
 *
 * What differs from HTTP/1.1 (transport/http.ts):
 * - the target is `:path`, canonicalised the same way; the host is `:authority`, or `host` when
 *   there is none; both present and different is refused (the route would be chosen by one, the
 *   upstream could read the other). Pseudo-headers are never copied as headers;
 * - a refusal does not close the connection: the stream is answered and, its body unread, reset
 *   by Node (NO_ERROR) once the answer is out, while the connection's other streams go on;
 * - a gRPC request (`application/grpc`, `application/grpc+…`) is refused in gRPC form
 *   (grpc-refusal.ts), and a gRPC request for a route whose upstream speaks HTTP/1.1 is refused
 *   with UNIMPLEMENTED rather than sent to an upstream that cannot answer it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  constants,
  Http2ServerRequest,
  Http2ServerResponse,
  type IncomingHttpHeaders as Http2Headers,
  type ServerHttp2Stream,
} from 'node:http2';
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { HttpTransportDeps } from './http.js';
import type { Http2Forwarder, Http2Target } from '../forward/http2-forwarder.js';
import { evaluate, type Forward } from '../pipeline/evaluate.js';
import type { Arrival, Observe } from '../pipeline/observe.js';
import { refuse } from '../pipeline/refuse.js';
import type { Protocol } from '../../observability/metrics.js';
import type { RequestTrace } from '../../observability/tracing/types.js';
import { requestIdOf, withoutPseudoHeaders } from '../../http/request.js';
import { upstreamPath } from '../routing/route-table.js';
import { JWKS_PATH } from '../assertion/jwks.js';
import { GrpcStatus } from '../../http/grpc-protocol.js';
import { respondGrpcRefusal, respondGrpcStatus } from './grpc-refusal.js';
import { isGrpc } from '../../http/grpc-protocol.js';
import { respondJsonError, respondRefusal, respondWhole, StreamResponse, type AnswerHeaders } from './http2-response.js';
import { replaceUpstreamCors } from '../pipeline/cors.js';
import { headerListSize } from '../../http/http2-server.js';

/** What the observer and tracing read of an HTTP/2 request. */
interface StreamRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
}

/** What the HTTP/2 writer uses: the HTTP writer's needs, the HTTP/2 forwarder, the header size limit, the logger. */
export interface Http2TransportDeps extends HttpTransportDeps {
  readonly http2: Pick<Http2Forwarder, 'forward' | 'forwardHttp1'>;
  readonly config: Pick<GatewayConfig, 'proxy'>;
  readonly logger: Logger;
}

export function createHttp2Transport(g: Http2TransportDeps, observe: Observe) {
  async function handleStream(stream: ServerHttp2Stream, h: Http2Headers, flags: number, rawHeaders: readonly string[]): Promise<void> {
    const started = performance.now();
    // nghttp2 has checked the pseudo-headers: `:method` is always there, `:path` except for CONNECT.
    const method = h[':method'] ?? 'GET';
    const rawTarget = h[':path'];
    const grpc = isGrpc(h['content-type']);
    const encrypted = stream.session?.encrypted === true; // behind the TLS front (ALPN h2)
    const protocol: Protocol = grpc ? 'grpc' : encrypted ? 'h2' : 'h2c';
    const headers = withoutPseudoHeaders(h);
    const req: StreamRequest = { method, headers };
    const requestId = requestIdOf(req);
    const peer = stream.session?.socket?.remoteAddress;

    if (g.snapshot.jwksBody !== undefined && (rawTarget === JWKS_PATH || rawTarget?.startsWith(JWKS_PATH + '?'))) {
      const a: Arrival = { started, requestId, peer, snapshot: g.snapshot, path: JWKS_PATH, observed: false, protocol };
      const status = respondJwks(stream, method, g.snapshot.jwksBody, requestId);
      return observe(req, a, 'control', status);
    }

    const trace = g.tracing?.startRequest(req, 'proxy');
    const a: Arrival = { started, requestId, peer, snapshot: g.snapshot, path: undefined, observed: false, protocol };
    const refused = (r: ReturnType<typeof refuse>) => {
      if (grpc) respondGrpcRefusal(stream, r, requestId);
      else respondRefusal(stream, r, answerHeaders(a));
      // For gRPC the wire says 200 and grpc-status; the metric and access line keep the HTTP
      // status the same refusal has over HTTP/1.1, so refusal rates read alike for both.
      observe(req, a, r.route, r.status);
    };

    // HTTP/1.1 answers 431 past proxy.max_header_size; Node does not enforce the size it announced for HTTP/2.
    if (headerListSize(rawHeaders) > g.config.proxy.max_header_size)
      return refused(refuse('bad_request', 431, 'The request header fields are too large'));
    const authority = h[':authority'];
    const host = headers.host;
    if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
      return refused(refuse('bad_request', 400, ':authority and host name different hosts'));
    if (authority === undefined && host === undefined) return refused(refuse('bad_request', 400, 'The request names no host'));
    // The upstream (HTTP/1.1) reads the host the route was matched on.
    headers.host = authority ?? host;
    const expectsContinue = headers.expect?.toLowerCase() === '100-continue';
    const hasBody = (flags & constants.NGHTTP2_FLAG_END_STREAM) === 0;

    const evaluated = evaluate(
      g,
      a,
      { transport: grpc ? 'grpc' : 'http2', method, host: headers.host, rawTarget, headers, httpVersion: '2.0', encrypted },
      trace,
    );
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;
    if (stream.destroyed) return observe(req, a, outcome.kind === 'forward' ? outcome.route.name : 'none', 499);

    // A CORS preflight for a route with a CORS policy, answered by the gateway (browsers send no gRPC).
    if (outcome.kind === 'preflight') {
      respondWhole(stream, 204, { ...outcome.headers, 'x-request-id': requestId }, undefined);
      return observe(req, a, outcome.route.name, 204);
    }
    if (outcome.kind === 'refuse') return refused(outcome);

    if (outcome.kind === 'control') {
      if (grpc) {
        respondGrpcStatus(stream, GrpcStatus.UNIMPLEMENTED, 'No gRPC service is served at this path', requestId);
        return observe(req, a, 'control', 404);
      }
      const { target } = outcome;
      trace?.inject(headers); // Kratos self-service calls continue the gateway's trace
      const compatHeaders: Http2Headers = { ...headers, ':method': method, ':path': target.path + target.search, ':scheme': h[':scheme'] };
      if (authority !== undefined) compatHeaders[':authority'] = authority;
      const res = new Http2ServerResponse(stream);
      const answer = answerHeaders(a);
      for (const name in answer) res.setHeader(name, answer[name]!);
      res.once('finish', () => observe(req, a, 'control', res.statusCode));
      if (expectsContinue) stream.additionalHeaders({ ':status': 100 });
      g.control!.handleHttp2(new Http2ServerRequest(stream, compatHeaders, {}, []), res);
      return;
    }

    if (expectsContinue) stream.additionalHeaders({ ':status': 100 });
    const upstream = outcome.route.upstreamProtocol;
    if (upstream !== 'http1') return forwardHttp2(stream, req, a, outcome, upstream, trace);
    if (grpc) {
      respondGrpcStatus(stream, GrpcStatus.UNIMPLEMENTED, 'This route does not carry gRPC: its upstream speaks HTTP/1.1', requestId);
      return observe(req, a, outcome.route.name, 501, outcome.session?.identityId);
    }
    return forwardHttp1(stream, req, a, outcome, hasBody, trace);
  }

  async function forwardHttp1(
    stream: ServerHttp2Stream,
    req: StreamRequest,
    a: Arrival,
    outcome: Forward,
    hasBody: boolean,
    trace: RequestTrace | undefined,
  ): Promise<void> {
    const { route, target } = outcome;
    const identityId = outcome.session?.identityId;
    const extra = outcome.setCookie ? { 'set-cookie': outcome.setCookie } : undefined;
    const upstreamTrace = trace?.startUpstream(req.headers, route.upstream, req.method);
    const res = new StreamResponse(stream, answerHeaders(a));
    const path = upstreamPath(route, target.path, target.search);
    // Not the stream itself: undici destroys a body stream once it has sent it, and this one
    // still has the response to carry.
    const body = hasBody ? stream.iterator({ destroyOnReturn: false }) : null;
    const editCors = a.cors === undefined ? undefined : replaceUpstreamCors;
    const result = await g.http.forward(req.method, body, res, route.upstream.origin, path, req.headers, route.timeoutMs, extra, editCors);
    upstreamTrace?.end('failure' in result ? result.failure.status : result.status, 'failure' in result ? result.failure.kind : undefined);
    if ('failure' in result) {
      const f = result.failure;
      if (f.kind === 'client_abort') return observe(req, a, route.name, 499, identityId);
      g.metrics.upstreamError(route.name, f.kind);
      if (f.status === 0) return observe(req, a, route.name, res.status, identityId); // broke mid-response: the stream was reset
      respondJsonError(stream, f.status, f.message, answerHeaders(a));
      return observe(req, a, route.name, f.status, identityId);
    }
    observe(req, a, route.name, result.status, identityId, result.upstreamMs);
  }

  function forwardHttp2(
    stream: ServerHttp2Stream,
    req: StreamRequest,
    a: Arrival,
    outcome: Forward,
    protocol: 'h2c' | 'h2',
    trace: RequestTrace | undefined,
  ): void {
    const { route, target } = outcome;
    const identityId = outcome.session?.identityId;
    const upstreamTrace = trace?.startUpstream(req.headers, route.upstream, req.method);
    const target2: Http2Target = {
      method: req.method,
      path: upstreamPath(route, target.path, target.search),
      authority: req.headers.host,
      upstream: route.upstream,
      protocol,
      timeoutMs: route.timeoutMs,
      responseHeaders: outcome.setCookie ? { 'set-cookie': outcome.setCookie } : undefined,
      // Last: the route's CORS headers replace the upstream's (its Vary kept, Origin added); the
      // request id as HTTP/1.1 sets it.
      editResponseHeaders:
        a.cors === undefined ? (out) => void (out['x-request-id'] ??= a.requestId) : corsAndRequestId(a.cors, a.requestId),
    };
    g.http2.forward(stream, req.headers, target2, (r) => {
      const f = r.failure;
      upstreamTrace?.end(r.status ?? f?.status ?? 0, f?.kind);
      if (f !== undefined && f.kind !== 'client_abort') g.metrics.upstreamError(route.name, f.kind);
      // Nothing answered yet (a request that is not gRPC): the JSON error HTTP/1.1 clients get too.
      if (r.status === undefined && f !== undefined && f.status !== 0) {
        respondJsonError(stream, f.status, f.message, answerHeaders(a));
        return observe(req, a, route.name, f.status, identityId);
      }
      observe(req, a, route.name, r.status ?? (f?.kind === 'client_abort' ? 499 : 0), identityId, r.upstreamMs);
    });
  }

  return {
    /** For the HTTP/2 server's `stream` event: a stage failure the code did not foresee is logged and answered 500 (or INTERNAL). */
    stream(stream: ServerHttp2Stream, headers: Http2Headers, flags: number, rawHeaders: string[]): void {
      // A reset by the client, a write after it: nobody else listens, and one must not crash the process.
      stream.on('error', () => {});
      handleStream(stream, headers, flags, rawHeaders).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the proxy pipeline');
        const requestId = requestIdOf({ headers: headers as IncomingHttpHeaders });
        if (isGrpc(headers['content-type'])) respondGrpcStatus(stream, GrpcStatus.INTERNAL, 'An internal error occurred', requestId);
        else respondJsonError(stream, 500, 'An internal error occurred', { 'x-request-id': requestId });
      });
    },
  };
}

/** Headers every answer carries, read once the evaluation has run (it sets the route's CORS headers). */
function answerHeaders(a: Arrival): AnswerHeaders {
  return a.cors === undefined ? { 'x-request-id': a.requestId } : { ...a.cors, 'x-request-id': a.requestId };
}

function respondJwks(stream: ServerHttp2Stream, method: string, body: string, requestId: string): number {
  if (method !== 'GET' && method !== 'HEAD') {
    respondWhole(stream, 405, { allow: 'GET, HEAD', 'content-length': 0, 'x-request-id': requestId }, undefined);
    return 405;
  }
  const headers = {
    'content-type': 'application/jwk-set+json',
    'cache-control': 'public, max-age=300',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  };
  respondWhole(stream, 200, headers, method === 'HEAD' ? undefined : body);
  return 200;
}

/** Response headers on a CORS route: the upstream's CORS headers replaced by the route's, `Vary` merged rather than overwritten. */
function corsAndRequestId(cors: Readonly<Record<string, string>>, requestId: string): (out: Record<string, string | string[]>) => void {
  return (out) => {
    replaceUpstreamCors(out);
    for (const name in cors) out[name] ??= cors[name]!;
    out['x-request-id'] ??= requestId;
  };
}
