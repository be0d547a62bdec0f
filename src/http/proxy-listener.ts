/**
 * What listens on the proxy port: the HTTP/1.1 server itself (proxy.http2 off), or the h2c
 * dispatcher handing each connection to the HTTP/1.1 server or the HTTP/2 server.
 */
import type { Server } from 'node:http';
import type { ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import type { GatewayConfig } from '../config/schema.js';
import { createH2cDispatcher } from './h2c-dispatch.js';
import { createProxyHttp2Server } from './http2-server.js';
import { trackConnections, type ServedBy } from '../listen.js';

export function proxyListener(
  p: GatewayConfig['proxy'],
  http1: Server,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void,
): { listening: NetServer; servedBy?: ServedBy } {
  if (!p.http2) return { listening: http1 };
  const http2 = createProxyHttp2Server(
    {
      maxConcurrentStreams: p.http2_max_concurrent_streams,
      maxHeaderSize: p.max_header_size,
      headersTimeoutMs: p.headers_timeout_ms,
      requestTimeoutMs: p.request_timeout_ms,
      keepAliveTimeoutMs: p.keep_alive_timeout_ms,
    },
    onStream,
  );
  // A connection that never shows its protocol is held no longer than one that never sends its headers.
  const listening = createH2cDispatcher({ http1, http2: http2.server, prefaceTimeoutMs: p.headers_timeout_ms });
  return { listening, servedBy: { http1, http2, accepted: trackConnections(listening) } };
}
