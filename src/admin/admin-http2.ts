/**
 * The admin listener's HTTP/2 side (h2c, on the same port as HTTP/1.1: src/http/h2c-dispatch.ts):
 * Envoy's ext_authz gRPC service, `envoy.service.auth.v3.Authorization/Check`. Everything else
 * the admin listener serves is HTTP/1.1 only: any other HTTP/2 request is reset with
 * HTTP_1_1_REQUIRED (RFC 9113 §8.1.1), which tells a client to repeat it over HTTP/1.1.
 *
 * The Host check (host-check.ts) does not apply here, as it does not to the HTTP decision API:
 * it defends against DNS rebinding, which needs a browser, and no browser speaks HTTP/2 without
 * TLS; and Envoy sends the name of the Service it reaches the gateway through, or its cluster
 * name, as `:authority`, which admin.allowed_hosts would have to list for no gain.
 */
import { constants, type Http2Server } from 'node:http2';
import type { DecisionDeps } from '../gateway/transport/decision.js';
import { createExtAuthzCheck } from '../gateway/transport/ext-authz/check.js';
import { CHECK_PATH } from '../gateway/transport/ext-authz/messages.js';
import { isGrpc } from '../http/grpc-protocol.js';
import { ByteBudget, serveUnary, type UnaryMethod } from '../http/grpc-unary.js';
import { createProxyHttp2Server } from '../http/http2-server.js';
import { ADMIN_HEADERS_TIMEOUT_MS, ADMIN_REQUEST_TIMEOUT_MS } from '../listen.js';

/**
 * Envoy's CheckRequest carries the request headers (a body only with `with_request_body`,
 * whose default limit is far below this).
 */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Envoy multiplexes its checks over few connections and opens another when a connection's
 * streams are all in use: the limit bounds one connection's share of the admin listener.
 */
const MAX_CONCURRENT_STREAMS = 1_000;

/**
 * What all checks in flight may hold of request bytes together: a CheckRequest is a few KiB,
 * so this is thousands of concurrent checks, while 1,000 streams on each of several
 * connections, each just under MAX_MESSAGE_BYTES, could otherwise hold gigabytes.
 */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Envoy sends the check's metadata (a few headers) in HEADERS; the original request's headers travel in the message. */
const MAX_HEADER_LIST_BYTES = 64 * 1024;

/** Envoy keeps its check connections open; one idle this long is closed with GOAWAY (Envoy opens another). */
const IDLE_SESSION_MS = 300_000;

const limits = () => ({
  maxMessageBytes: MAX_MESSAGE_BYTES,
  // As for the listener's HTTP/1.1 requests; Envoy's own ext_authz timeout is far shorter.
  maxCallMs: ADMIN_REQUEST_TIMEOUT_MS,
  buffered: new ByteBudget(MAX_BUFFERED_BYTES),
});

export interface AdminHttp2 {
  readonly server: Http2Server;
  /** GOAWAY to every client (its calls in flight finish), then, after `graceMs`, closes what is left. */
  close(graceMs: number): Promise<void>;
}

export function createAdminHttp2(g: DecisionDeps): AdminHttp2 {
  const methods = new Map<string, UnaryMethod>([[CHECK_PATH, createExtAuthzCheck(g)]]);
  const callLimits = limits();
  // The proxy port's HTTP/2 server and its hardening (header-list caps, no push, frame-flood
  // limits, idle sessions closed). Each call is bounded by serveUnary's own deadline, so the
  // per-stream inactivity timeout (an HTTP 408, not a gRPC answer) is off.
  const h2 = createProxyHttp2Server(
    {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      maxHeaderSize: MAX_HEADER_LIST_BYTES,
      headersTimeoutMs: ADMIN_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: 0,
      keepAliveTimeoutMs: IDLE_SESSION_MS,
    },
    (stream, headers) => {
      stream.on('error', () => {});
      if (!isGrpc(headers['content-type'])) return void stream.close(constants.NGHTTP2_HTTP_1_1_REQUIRED);
      serveUnary(stream, headers, methods, callLimits);
    },
  );
  return {
    server: h2.server,
    close(graceMs) {
      // GOAWAY: calls in flight finish; the admin listener's close waits for the connections to end.
      h2.closeSessions();
      setTimeout(() => h2.destroySessions(), graceMs).unref();
      return Promise.resolve();
    },
  };
}
