/**
 * The data plane, top to bottom. Every proxied request and WebSocket handshake goes through
 * these steps in this order; each step is one stage module.
 *
 *   0. refuse what cannot be framed safely (Transfer-Encoding in anything but HTTP/1.1)
 *   1. canonicalize the path (reject what cannot be made unambiguous)
 *   2. strip identity headers the caller sent — on every route and every outcome
 *   3. hand control-plane paths (Kratos mount, UI) to express
 *   4. match a route
 *   5. decide: credential → session (cache, coalescing) → allow / login / 401 / fail closed
 *   6. mutate headers: hop-by-hop out; forwarding, identity, request id in; session cookie out
 *   7. forward (undici for HTTP, http-proxy-3 for WebSockets)
 *
 * Tracing (src/tracing, off unless OTEL_* says so) hooks in with `trace?.…` one-liners: the
 * request span starts before step 1 and ends in observe(); step 5 adds the session lookup and
 * whoami spans, step 7 the upstream span and its traceparent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AccessLog } from './access-log.js';
import { decide, type Decision } from './decision/decide.js';
import { sendJsonError, sendSocketError } from './errors/json-error.js';
import { sendLoginRedirect, sendUnauthorized, sendUnauthorizedSocket } from './errors/unauthenticated.js';
import { sendUnavailable, sendUnavailableSocket } from './errors/unavailable.js';
import type { GatewayCore } from './gateway-core.js';
import { stripHopByHop } from './headers/hop-by-hop.js';
import { stripIdentityHeaders } from './headers/identity-headers.js';
import type { ForwardContext } from './mutators/index.js';
import { loginLocation, peerAddress, requestIdOf } from './request-context.js';
import { parseRequestTarget, TargetRejected, type RequestTarget } from './request-target.js';
import { upstreamPath, type Route } from './routing/route-table.js';

/**
 * What the access line needs that is gone by the time it is written: the TCP peer (the socket
 * is detached from a finished request) and the canonical path. Set when the request arrives.
 */
interface LogContext {
  peer: string | undefined;
  path: string | undefined;
}
/** Kept on the request itself: a symbol property costs nothing measurable, a WeakMap ~0.4 µs per request. */
const LOG_CONTEXT = Symbol('kratos-gateway.log-context');
type LoggedRequest = IncomingMessage & { [LOG_CONTEXT]?: LogContext };
/** Declares a body: a non-zero Content-Length, or any Transfer-Encoding. */
function declaresBody(req: IncomingMessage): boolean {
  return 'content-length' in req.headers ? req.headers['content-length'] !== '0' : 'transfer-encoding' in req.headers;
}

/**
 * RFC 9112 §6.1: Transfer-Encoding exists from HTTP/1.1 on; in an HTTP/1.0 message it means
 * faulty framing. llhttp still decodes the body as chunked and parses what follows as the
 * next request — for 1.0 and for the `HTTP/0.9` and `HTTP/2.0` request lines it also accepts
 * — while a peer that frames by the version does not: two views of one byte stream, so
 * nothing of it is forwarded. Any version but 1.1, not a list of spellings.
 */
function transferEncodingOutsideHttp11(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined && !(req.httpVersionMajor === 1 && req.httpVersionMinor === 1);
}

export function createProxyHandler(g: GatewayCore) {
  const accessLog = new AccessLog(g.logger, g.config.log.access_log);
  /**
   * Connections the gateway answered with `Connection: close` because it refused to read on:
   * a request Node already parsed behind the refused one (pipelined) must not be handled —
   * neither by handleRequest nor, for a WebSocket handshake, by handleUpgrade.
   */
  const closing = new WeakSet<object>();
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

  function observe(req: IncomingMessage, route: string, status: number, started: number, requestId: string, identityId?: string, upstreamMs?: number): void {
    const seconds = (performance.now() - started) / 1000;
    const method = req.method ?? 'GET';
    g.metrics.request(route, method, status, seconds);
    const traceId = g.tracing?.finishRequest(req, route, status);
    if (!accessLog.enabled) return;
    const ctx = (req as LoggedRequest)[LOG_CONTEXT];
    const xff = req.headers['x-forwarded-for'];
    const client = g.trustedProxies.clientAddress(ctx ? ctx.peer : peerAddress(req), typeof xff === 'string' ? xff : undefined);
    accessLog.write(requestId, client, route, method, ctx?.path, status, Math.round(seconds * 1e4) / 10, identityId, traceId === undefined ? '' : `,"trace_id":"${traceId}"`, upstreamMs);
  }

  /** Step 6 for HTTP and WebSockets alike: hop-by-hop out, then every header mutator in order. */
  function prepareUpstreamHeaders(req: IncomingMessage, route: Route, decision: Extract<Decision, { kind: 'allow' }>, requestId: string, websocket: boolean): void {
    stripHopByHop(req.headers, g.injectedHeaderNames, websocket);
    const ctx: ForwardContext = {
      route,
      session: decision.session,
      credentialKind: decision.credentialKind,
      requestId,
      peerAddress: req.socket.remoteAddress,
      peerTrusted: g.trustedProxies.trusts(req.socket.remoteAddress),
      encrypted: false,
    };
    for (const mutator of g.mutators) mutator.mutate(req.headers, ctx);
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req);
    if (closing.has(req.socket)) return; // pipelined behind a refusal: never handled, the socket is closing
    res.setHeader('x-request-id', requestId);
    const trace = g.tracing?.startRequest(req, 'proxy');
    const logCtx: LogContext = { peer: peerAddress(req), path: undefined };
    if (accessLog.enabled) (req as LoggedRequest)[LOG_CONTEXT] = logCtx;

    // 0. Framing the gateway will not forward.
    if (transferEncodingOutsideHttp11(req)) {
      res.setHeader('connection', 'close');
      closing.add(req.socket);
      sendJsonError(res, 400, `Transfer-Encoding is not allowed in an HTTP/${req.httpVersion} request`);
      return observe(req, 'none', 400, started, requestId);
    }

    // 1. Canonical path: matched and forwarded as the same string.
    let target: RequestTarget;
    try {
      target = parseRequestTarget(req.url);
    } catch (err) {
      if (!(err instanceof TargetRejected)) throw err;
      closeIfBodyUnread(req, res);
      sendJsonError(res, 400, err.message);
      return observe(req, 'none', 400, started, requestId);
    }
    logCtx.path = target.path;
    trace?.setPath(target.path);

    // Read before hop-by-hop stripping removes Transfer-Encoding.
    const hasBody = declaresBody(req);

    // 2. No caller-supplied identity survives, whatever happens next.
    stripIdentityHeaders(req.headers, g.protectedHeaderNames);

    // 3. Control plane: the Kratos public API mount and the self-service UI.
    if (g.control?.owns(target.path)) {
      req.url = target.path + target.search;
      trace?.inject(req.headers); // Kratos self-service calls continue the gateway's trace
      res.once('finish', () => observe(req, 'control', res.statusCode, started, requestId));
      closeWhenAnsweredEarly(req, res, hasBody);
      allowBody(req, res);
      g.control.handle(req, res);
      return;
    }

    // 4. Route.
    const route = g.routes.match(req.headers.host, target.path, method);
    if (route === undefined) {
      closeIfBodyUnread(req, res);
      sendJsonError(res, 404, 'No route matches this request');
      return observe(req, 'none', 404, started, requestId);
    }

    // 5. Decide.
    const decision = await decide(route, method, req.headers, g.extractors, g.resolver, trace);
    if (decision.kind === 'unavailable') {
      closeIfBodyUnread(req, res);
      const status = sendUnavailable(res, decision.resolution);
      return observe(req, route.name, status, started, requestId);
    }
    if (decision.kind === 'unauthenticated') {
      closeIfBodyUnread(req, res);
      if (decision.respondWith === 'redirect') {
        sendLoginRedirect(res, loginLocation(g, req, target));
        return observe(req, route.name, 302, started, requestId);
      }
      sendUnauthorized(res);
      return observe(req, route.name, 401, started, requestId);
    }

    // 6. Headers for the upstream.
    delete req.headers.expect; // answered here (allowBody); undici refuses to send it
    prepareUpstreamHeaders(req, route, decision, requestId, false);

    // 7. Forward. A refreshed Kratos cookie from whoami goes back to the client.
    const extra = decision.setCookie ? { 'set-cookie': decision.setCookie } : undefined;
    allowBody(req, res);
    const upstreamTrace = trace?.startUpstream(req.headers, route.upstream, method);
    const result = await g.http.forward(req, res, route.upstream.origin, upstreamPath(route, target.path, target.search), req.headers, hasBody, route.timeoutMs, extra);
    upstreamTrace?.end('failure' in result ? result.failure.status : result.status, 'failure' in result ? result.failure.kind : undefined);
    if ('failure' in result) {
      const f = result.failure;
      if (f.kind === 'client_abort') return observe(req, route.name, 499, started, requestId, decision.session?.identityId);
      g.metrics.upstreamError(route.name, f.kind);
      if (f.status === 0) return observe(req, route.name, res.statusCode, started, requestId, decision.session?.identityId); // broke mid-response
      closeIfBodyUnread(req, res, hasBody); // Transfer-Encoding is gone from req.headers by now
      sendJsonError(res, f.status, f.message);
      return observe(req, route.name, f.status, started, requestId, decision.session?.identityId);
    }
    observe(req, route.name, result.status, started, requestId, decision.session?.identityId, result.upstreamMs);
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req);
    socket.on('error', () => socket.destroy());
    // Pipelined behind a refusal that closes the connection: Node hands a handshake to this
    // listener, not to handleRequest, so the same rule is applied here. end() (not destroy())
    // lets the refusal already queued on this socket reach the client before the FIN.
    if (closing.has(req.socket)) {
      socket.end();
      return;
    }
    const trace = g.tracing?.startRequest(req, 'websocket');
    const logCtx: LogContext = { peer: peerAddress(req), path: undefined };
    if (accessLog.enabled) (req as LoggedRequest)[LOG_CONTEXT] = logCtx;
    if (transferEncodingOutsideHttp11(req)) {
      sendSocketError(socket, 400, `Transfer-Encoding is not allowed in an HTTP/${req.httpVersion} request`);
      return observe(req, 'none', 400, started, requestId);
    }

    let target: RequestTarget;
    try {
      target = parseRequestTarget(req.url);
    } catch (err) {
      if (!(err instanceof TargetRejected)) throw err;
      sendSocketError(socket, 400, err.message);
      return observe(req, 'none', 400, started, requestId);
    }
    logCtx.path = target.path;
    stripIdentityHeaders(req.headers, g.protectedHeaderNames);
    trace?.setPath(target.path);

    if (g.draining) {
      sendSocketError(socket, 503, 'The gateway is shutting down');
      return observe(req, 'none', 503, started, requestId);
    }
    // Only WebSocket upgrades, never h2c or arbitrary protocols (upgrade smuggling).
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || method !== 'GET') {
      sendSocketError(socket, 400, 'Only WebSocket upgrades are supported');
      return observe(req, 'none', 400, started, requestId);
    }
    const route = g.control?.owns(target.path) ? undefined : g.routes.match(req.headers.host, target.path, method);
    if (route === undefined || !route.websocket) {
      sendSocketError(socket, 404, 'No WebSocket route matches this request');
      return observe(req, route?.name ?? 'none', 404, started, requestId);
    }

    const decision = await decide(route, method, req.headers, g.extractors, g.resolver, trace);
    if (decision.kind === 'unavailable') {
      sendUnavailableSocket(socket, decision.resolution);
      return observe(req, route.name, 503, started, requestId);
    }
    if (decision.kind === 'unauthenticated') {
      sendUnauthorizedSocket(socket);
      return observe(req, route.name, 401, started, requestId);
    }

    prepareUpstreamHeaders(req, route, decision, requestId, true);
    trace?.inject(req.headers);
    req.url = upstreamPath(route, target.path, target.search);
    g.upgradedSockets.add(socket);
    socket.once('close', () => g.upgradedSockets.delete(socket));
    g.websocket.forward(req, socket, head, route.upstream.origin);
    observe(req, route.name, 101, started, requestId, decision.session?.identityId);
  }

  /** Wraps a stage failure the code did not foresee: logged with the request id, answered 500, never a crash. */
  function guard<A extends unknown[]>(fn: (...args: A) => Promise<void>, onError: (...args: A) => void) {
    return (...args: A): void => {
      fn(...args).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the proxy pipeline');
        onError(...args);
      });
    };
  }

  const request = guard(handleRequest, (req, res) => {
    closeIfBodyUnread(req, res);
    sendJsonError(res, 500, 'An internal error occurred');
  });
  return {
    request,
    /** For the server's `checkContinue` event: like `request`, the 100 deferred to allowBody. */
    checkContinue(req: IncomingMessage, res: ServerResponse): void {
      awaitingContinue.add(req);
      request(req, res);
    },
    upgrade: guard(handleUpgrade, (_req, socket) => sendSocketError(socket, 500, 'An internal error occurred')),
  };
}
