/**
 * HTTP/2 on the proxy port: the HTTP/2 server (proxy.http2), and the h2c front that listens
 * in plaintext and hands each connection to the HTTP/1.1 server or the HTTP/2 server. With TLS
 * the TLS front (tls-dispatch.ts) hands `h2` connections to the same HTTP/2 server.
 */
import type { Server } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import { createH2cDispatcher } from './h2c-dispatch.js';
import { createProxyHttp2Server, type ProxyHttp2Server } from './http2-server.js';

/** The proxy configuration's keys this reads (proxy.*). */
export interface ProxyHttp2Settings {
  readonly http2: boolean;
  readonly http2_max_concurrent_streams: number;
  readonly max_header_size: number;
  readonly headers_timeout_ms: number;
  readonly request_timeout_ms: number;
  readonly keep_alive_timeout_ms: number;
}

/** The proxy port's HTTP/2 server; undefined with proxy.http2 off. */
export function proxyHttp2(
  p: ProxyHttp2Settings,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void,
): ProxyHttp2Server | undefined {
  if (!p.http2) return undefined;
  return createProxyHttp2Server(
    {
      maxConcurrentStreams: p.http2_max_concurrent_streams,
      maxHeaderSize: p.max_header_size,
      headersTimeoutMs: p.headers_timeout_ms,
      requestTimeoutMs: p.request_timeout_ms,
      keepAliveTimeoutMs: p.keep_alive_timeout_ms,
    },
    onStream,
  );
}

/**
 * The plaintext front: HTTP/1.1 and h2c on one port. A connection that never shows its protocol
 * is held no longer than one that never sends its headers; at the end of a shutdown's grace
 * period closeAllConnections closes those too.
 */
export function h2cFront(http1: Server, http2: ProxyHttp2Server, prefaceTimeoutMs: number): NetServer & { closeAllConnections(): void } {
  const listening = createH2cDispatcher({ http1, http2: http2.server, prefaceTimeoutMs });
  const open = new Set<Socket>();
  listening.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return Object.assign(listening, {
    closeAllConnections() {
      for (const socket of open) socket.destroy();
    },
  });
}
