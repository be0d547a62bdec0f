/**
 * TLS on the proxy port: a tls.Server is the listening server. ALPN offers `h2` and `http/1.1`
 * (only `http/1.1` without an HTTP/2 server); once a handshake completes the TLS socket is
 * handed to the server of the negotiated protocol, as the plaintext dispatcher (h2c-dispatch.ts)
 * hands plain sockets. A client that names no protocol speaks HTTP/1.1. Neither HTTP server
 * listens itself; `req.socket.encrypted` is true on the sockets they are handed.
 */
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { ConnectionTaker } from './h2c-dispatch.js';
import type { TlsPairBytes } from './tls-pair.js';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface TlsDispatchOptions {
  readonly http1: ConnectionTaker;
  /** Absent: only HTTP/1.1 is offered. */
  readonly http2?: ConnectionTaker;
  readonly certificate: TlsPairBytes;
  readonly minVersion: TlsMinVersion;
  /** A handshake not complete within this time is abandoned (the socket closed). 0: Node's default, 120 s. */
  readonly handshakeTimeoutMs: number;
  /** Told of each failed handshake (a scanner, an old client, a reset): the socket is already closed. */
  readonly onClientError?: (err: Error, socket: TLSSocket) => void;
}

export interface TlsFront extends TlsServer {
  /** New connections get this certificate; open ones keep theirs. */
  setCertificate(certificate: TlsPairBytes): void;
  /** Closes every connection it accepted, handshaking or handed on (the end of a shutdown's grace period). */
  closeAllConnections(): void;
}

export function createTlsDispatcher(options: TlsDispatchOptions): TlsFront {
  const http2 = options.http2;
  const server = createTlsServer({
    // As http.Server does for the sockets it accepts: responses go out without waiting for an ACK (Nagle).
    noDelay: true,
    cert: options.certificate.cert,
    key: options.certificate.key,
    minVersion: options.minVersion,
    ALPNProtocols: http2 !== undefined ? ['h2', 'http/1.1'] : ['http/1.1'],
    ...(options.handshakeTimeoutMs > 0 && { handshakeTimeout: options.handshakeTimeoutMs }),
  });
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2' && http2 !== undefined) http2.emit('connection', socket);
    else options.http1.emit('connection', socket);
  });
  // Neither HTTP server listens itself: the HTTP/1.1 one enforces its timeouts (and can close
  // idle connections) only once told the front listens, as the h2c dispatcher tells it.
  server.on('listening', () => options.http1.emit('listening'));
  // A failed handshake must never reach the process: the socket is closed, the listener goes on.
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    options.onClientError?.(err, socket);
    socket.destroy();
  });
  return Object.assign(server, {
    setCertificate(certificate: TlsPairBytes) {
      // setSecureContext replaces every context option: minVersion is passed again, or it would fall back to Node's default.
      server.setSecureContext({ cert: certificate.cert, key: certificate.key, minVersion: options.minVersion });
    },
    closeAllConnections() {
      for (const socket of open) socket.destroy();
    },
  });
}
