/**
 * The HTTP writer: runs the evaluation for a proxied request and turns its outcome into a
 * response — the control-plane hand-off, a refusal, or the forwarded upstream response.
 * HTTP/1.x specifics live here: a refusal answered while a declared body is unread closes
 * the connection (and requests pipelined behind it are never handled), and `100 Continue` is
 * sent only once a request will be forwarded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { sendJsonError } from '../../http/json-error.js';
import { sendForbiddenPage } from './forbidden-page.js';
import { sendLoginRedirect } from './login-redirect.js';
import type { ConfigSnapshot } from '../config-snapshot.js';
import type { HttpForwarder } from '../forward/http-forwarder.js';
import type { Http2Forwarder } from '../forward/http2-forwarder.js';
import { evaluate, evaluationInput, type ControlPaths, type PipelineDeps } from '../pipeline/evaluate.js';
import { arrive, observeFailure, type Observe } from '../pipeline/observe.js';
import type { Refuse } from '../pipeline/refuse.js';
import { peerAddress, requestIdOf } from '../../http/request.js';
import { upstreamPath } from '../routing/route-table.js';
import { JWKS_PATH, sendJwks } from '../assertion/jwks.js';
import { replaceUpstreamCors, setCorsHeaders } from '../pipeline/cors.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import type { Tracing } from '../../observability/tracing/types.js';

/** The express side (Kratos mount, self-service UI): owns some path prefixes on the proxy port. */
export interface ControlPlane extends ControlPaths {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The same over HTTP/2, through Node's compatibility request and response objects. */
  handleHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void;
}

/** What the HTTP writer uses beyond the evaluation's own needs. */
export interface HttpTransportDeps extends PipelineDeps {
  /** The current configuration snapshot: read once when a request arrives. */
  readonly snapshot: ConfigSnapshot;
  readonly control: ControlPlane | undefined;
  readonly http: Pick<HttpForwarder, 'forward'>;
  /** Routes whose upstream speaks HTTP/2 (h2c, h2). */
  readonly http2: Pick<Http2Forwarder, 'forwardHttp1'>;
  readonly metrics: Pick<GatewayMetrics, 'upstreamError'>;
  readonly tracing?: Pick<Tracing, 'startRequest'> | undefined;
}

/** Declares a body: a non-zero Content-Length, or any Transfer-Encoding. */
export function declaresBody(req: IncomingMessage): boolean {
  return 'content-length' in req.headers ? req.headers['content-length'] !== '0' : 'transfer-encoding' in req.headers;
}

/** A refusal on an HTTP response. */
export function writeRefusal(res: ServerResponse, r: Refuse): void {
  // A login or step-up redirect carries its location.
  if (r.location !== undefined) sendLoginRedirect(res, r.location);
  else if (r.html === true) sendForbiddenPage(res, r.message);
  else sendJsonError(res, r.status, r.message, r.headers as Record<string, string> | undefined, r.error);
}

export function createHttpTransport(g: HttpTransportDeps, observe: Observe, closing: WeakSet<object>) {
  /**
   * Requests with `Expect: 100-continue` whose client is still waiting for the go-ahead. Node
   * would send `100 Continue` before the gateway decides; the server hands these to
   * `checkContinue` instead, and the go-ahead is sent only once the request will be forwarded,
   * so a refused upload is never sent at all.
   */
  const awaitingContinue = new WeakSet<IncomingMessage>();
  function allowBody(req: IncomingMessage, res: ServerResponse): void {
    if (awaitingContinue.delete(req)) res.writeContinue();
  }

  /**
   * A refusal answered before the body was read ends the connection: otherwise Node reads
   * (and discards) the whole declared body to reach the next request, so a 64 MB upload to a
   * protected route would be read in full only to be thrown away. After the response is
   * flushed Node closes the socket and nothing more is read.
   */
  function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse, hasBody = declaresBody(req)): void {
    if (res.headersSent || req.complete || !hasBody) return;
    res.setHeader('connection', 'close');
    // req.socket is null once the request stream was destroyed (a body reader that stopped
    // early, like the mount's); the response still holds the connection until it finishes.
    const socket = res.socket ?? req.socket;
    if (socket) closing.add(socket);
  }

  /**
   * The same rule for the control plane, whose modules answer on their own (the mount's 413
   * after 64 KiB of a larger body, a 404, a Kratos error): whichever response is started while
   * a declared body is still unread ends the connection. Hooked on writeHead, which Node calls
   * for implicit headers too, so no module has to remember it.
   */
  function closeWhenAnsweredEarly(req: IncomingMessage, res: ServerResponse, hasBody: boolean): void {
    const writeHead = res.writeHead;
    // writeHead is overloaded; the arguments pass through untouched, so their types do not matter here.
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      closeIfBodyUnread(req, res, hasBody);
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req);
    if (closing.has(req.socket)) return; // pipelined behind a refusal: never handled, the socket is closing
    res.setHeader('x-request-id', requestId);
    // The identity assertion's public keys: anonymous and before routing, like the control plane.
    if (g.snapshot.jwksBody !== undefined && (req.url === JWKS_PATH || req.url?.startsWith(JWKS_PATH + '?'))) {
      const a = arrive(req, { started, requestId, peer: peerAddress(req), snapshot: g.snapshot, path: JWKS_PATH, observed: false });
      sendJwks(req, res, g.snapshot.jwksBody);
      return observe(req, a, 'control', res.statusCode);
    }
    const trace = g.tracing?.startRequest(req, 'proxy');
    const a = arrive(req, { started, requestId, peer: peerAddress(req), snapshot: g.snapshot, path: undefined, observed: false });
    // Read before hop-by-hop stripping removes Transfer-Encoding.
    const hasBody = declaresBody(req);

    const evaluated = evaluate(g, a, evaluationInput('http', method, req), trace);
    // Awaited only when authentication had to ask: a refusal before it is written in this tick.
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;

    // CORS: a preflight answered by the gateway; otherwise the route's CORS headers on whichever answer follows.
    if (outcome.kind === 'preflight') {
      closeIfBodyUnread(req, res, hasBody);
      res.writeHead(204, outcome.headers);
      res.end();
      return observe(req, a, outcome.route.name, 204);
    }
    if (a.cors !== undefined) setCorsHeaders(res, a.cors);

    if (outcome.kind === 'refuse') {
      if (outcome.reason === 'framing') {
        res.setHeader('connection', 'close');
        closing.add(req.socket);
      } else closeIfBodyUnread(req, res, hasBody);
      writeRefusal(res, outcome);
      return observe(req, a, outcome.route, outcome.status);
    }

    if (outcome.kind === 'control') {
      const { target } = outcome;
      req.url = target.path + target.search;
      trace?.inject(req.headers); // Kratos self-service calls continue the gateway's trace
      res.once('finish', () => observe(req, a, 'control', res.statusCode));
      closeWhenAnsweredEarly(req, res, hasBody);
      allowBody(req, res);
      g.control!.handle(req, res);
      return;
    }

    // Forward. A refreshed Kratos cookie from whoami goes back to the client.
    const { route, target } = outcome;
    const identityId = outcome.session?.identityId;
    const extra = outcome.setCookie ? { 'set-cookie': outcome.setCookie } : undefined;
    allowBody(req, res);
    const upstreamTrace = trace?.startUpstream(req.headers, route.upstream, method);
    const path = upstreamPath(route, target.path, target.search);
    const protocol = route.upstreamProtocol;
    const editResponseHeaders = a.cors === undefined ? undefined : replaceUpstreamCors;
    const result = await (protocol === 'http1'
      ? g.http.forward(
          method,
          hasBody ? req : null,
          res,
          route.upstream.origin,
          path,
          req.headers,
          route.timeoutMs,
          extra,
          editResponseHeaders,
        )
      : g.http2.forwardHttp1(req, res, req.headers, hasBody, {
          method,
          path,
          authority: req.headers.host,
          upstream: route.upstream,
          protocol,
          timeoutMs: route.timeoutMs,
          responseHeaders: extra,
          editResponseHeaders,
        }));
    upstreamTrace?.end('failure' in result ? result.failure.status : result.status, 'failure' in result ? result.failure.kind : undefined);
    if ('failure' in result) {
      const f = result.failure;
      if (f.kind === 'client_abort') return observe(req, a, route.name, 499, identityId);
      g.metrics.upstreamError(route.name, f.kind);
      if (f.status === 0) return observe(req, a, route.name, res.statusCode, identityId); // broke mid-response
      closeIfBodyUnread(req, res, hasBody); // Transfer-Encoding is gone from req.headers by now
      sendJsonError(res, f.status, f.message);
      return observe(req, a, route.name, f.status, identityId);
    }
    observe(req, a, route.name, result.status, identityId, result.upstreamMs);
  }

  return {
    handleRequest,
    /** After an unforeseen failure: the 500, closing the connection when the body is unread. */
    fail(req: IncomingMessage, res: ServerResponse): void {
      closeIfBodyUnread(req, res);
      sendJsonError(res, 500, 'An internal error occurred');
      observeFailure(observe, req);
    },
    /** For the server's `checkContinue` event: the 100 deferred to allowBody. */
    expectContinue(req: IncomingMessage): void {
      awaitingContinue.add(req);
    },
  };
}
