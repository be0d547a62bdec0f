/**
 * The data plane's entry points on the proxy port: HTTP requests (and `Expect: 100-continue`),
 * WebSocket handshakes and HTTP/2 streams. The work is in pipeline/evaluate.ts (the one
 * evaluation, shared with the decision API); transport/http.ts, http2.ts and websocket.ts write its outcome;
 * pipeline/observe.ts observes every request.
 *
 * Tracing (src/observability/tracing, off unless OTEL_* says so) hooks in with `trace?.…` one-liners: the
 * request span starts on arrival and ends in observe(); authentication adds the session lookup
 * and whoami spans, forwarding the upstream span and its traceparent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createObserver, type ObserverDeps } from './pipeline/observe.js';
import { createHttpTransport, type HttpTransportDeps } from './transport/http.js';
import { createWebSocketTransport, type WebSocketTransportDeps } from './transport/websocket.js';
import { createHttp2Transport, type Http2TransportDeps } from './transport/http2.js';

/** The two writers' needs and the observer's; the logger for failures no stage foresaw. */
export type ProxyHandlerDeps = HttpTransportDeps & WebSocketTransportDeps & Http2TransportDeps & ObserverDeps;

export function createProxyHandler(g: ProxyHandlerDeps) {
  const observe = createObserver(g);
  /**
   * Connections the gateway answered with `Connection: close` because it refused to read on:
   * a request Node already parsed behind the refused one (pipelined) must not be handled —
   * neither as a request nor, for a WebSocket handshake, as an upgrade.
   */
  const closing = new WeakSet<object>();
  const http = createHttpTransport(g, observe, closing);
  const websocket = createWebSocketTransport(g, observe, closing);

  /** Wraps a stage failure the code did not foresee: logged with the request id, answered 500, never a crash. */
  function guard<A extends unknown[]>(fn: (...args: A) => Promise<void>, onError: (...args: A) => void) {
    return (...args: A): void => {
      fn(...args).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the proxy pipeline');
        onError(...args);
      });
    };
  }

  const request = guard(http.handleRequest, http.fail);
  return {
    request,
    /** For the server's `checkContinue` event: like `request`, the 100 deferred until the request will be forwarded. */
    checkContinue(req: IncomingMessage, res: ServerResponse): void {
      http.expectContinue(req);
      request(req, res);
    },
    upgrade: guard(websocket.handleUpgrade, websocket.fail),
    /** For the HTTP/2 server's `stream` event. */
    stream: createHttp2Transport(g, observe).stream,
  };
}
