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
import { constants, createServer, type Http2Server, type Http2Session } from 'node:http2';
import type { DecisionDeps } from '../gateway/transport/decision.js';
import { createExtAuthzCheck } from '../gateway/transport/ext-authz/check.js';
import { CHECK_PATH } from '../gateway/transport/ext-authz/messages.js';
import { isGrpc } from '../http/grpc-protocol.js';
import { ByteBudget, serveUnary, type UnaryMethod } from '../http/grpc-unary.js';
import { ADMIN_REQUEST_TIMEOUT_MS } from '../listen.js';

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
  const server = createServer({ settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } });
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // A client's protocol error ends its session; it must not reach the process.
  server.on('sessionError', () => {});
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (!isGrpc(headers['content-type'])) return void stream.close(constants.NGHTTP2_HTTP_1_1_REQUIRED);
    serveUnary(stream, headers, methods, callLimits);
  });
  return {
    server,
    close(graceMs) {
      return new Promise((resolve) => {
        if (sessions.size === 0) return resolve();
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, graceMs).unref();
        const done = () => {
          if (sessions.size > 0) return;
          clearTimeout(timer);
          resolve();
        };
        for (const s of sessions) {
          s.once('close', () => setImmediate(done));
          s.close();
        }
      });
    },
  };
}
