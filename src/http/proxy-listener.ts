/**
 * What listens on the proxy port: the HTTP/1.1 server itself (proxy.http2 off), or the h2c
 * dispatcher handing each connection to the HTTP/1.1 server or the HTTP/2 server.
 */
import type { Server } from 'node:http';
import type { ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import { createH2cDispatcher } from './h2c-dispatch.js';
import { createProxyHttp2Server, type ProxyHttp2Server } from './http2-server.js';

/** The proxy configuration's keys this reads (proxy.*). */
export interface ProxyListenerSettings {
  readonly http2: boolean;
  readonly http2_max_concurrent_streams: number;
  readonly max_header_size: number;
  readonly headers_timeout_ms: number;
  readonly request_timeout_ms: number;
  readonly keep_alive_timeout_ms: number;
}

export interface ProxyListener {
  readonly listening: NetServer;
  /** With HTTP/2: what closeGracefully (listen.ts) needs to drain both servers. */
  readonly servedBy?: { readonly http1: Server; readonly http2: ProxyHttp2Server; readonly accepted: ReadonlySet<Socket> };
}

export function proxyListener(
  p: ProxyListenerSettings,
  http1: Server,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void,
): ProxyListener {
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

/** The open connections of a listening server, from the first. */
function trackConnections(listening: NetServer): ReadonlySet<Socket> {
  const sockets = new Set<Socket>();
  listening.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}
