/**
 * One plaintext port for HTTP/1.1 and HTTP/2 with prior knowledge (h2c). An h2c client opens
 * with the fixed connection preface (RFC 9113 §3.4); any other first bytes are HTTP/1.1. The
 * listener reads only as far as the first byte that tells the two apart (the first byte for
 * every HTTP/1.1 method but PRI), puts the bytes back and hands the socket to the server that
 * speaks its protocol. `Upgrade: h2c` (RFC 7540 §3.2, removed in RFC 9113) is not offered: an
 * HTTP/1.1 request carrying it is served as HTTP/1.1.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What the dispatcher hands sockets to: an http.Server or an http2 server, neither of them listening itself. */
export interface ConnectionTaker {
  emit(event: 'connection', socket: Socket): boolean;
  /** Only the HTTP/1.1 server is told (see createH2cDispatcher). */
  emit(event: 'listening'): boolean;
}

export interface H2cDispatchOptions {
  readonly http1: ConnectionTaker;
  readonly http2: ConnectionTaker;
  /**
   * A connection that has not shown which protocol it speaks within this time is closed: the
   * servers' own header timeouts start only once they have the socket. 0 disables it.
   */
  readonly prefaceTimeoutMs: number;
}

/** 'h2' once the whole preface arrived, 'http1' at the first byte that differs, undefined while undecided. */
export function protocolOf(seen: Buffer): 'h2' | 'http1' | undefined {
  const n = Math.min(seen.length, H2_PREFACE.length);
  if (seen.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : undefined;
}

export function createH2cDispatcher(options: H2cDispatchOptions): NetServer {
  // As http.Server does for the sockets it accepts: responses go out without waiting for an ACK (Nagle).
  const server = createNetServer({ noDelay: true }, (socket) => {
    let seen: Buffer = Buffer.alloc(0);
    const timer = options.prefaceTimeoutMs > 0 ? setTimeout(() => socket.destroy(), options.prefaceTimeoutMs).unref() : undefined;
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const protocol = protocolOf(seen);
      if (protocol === undefined) return;
      done();
      socket.pause();
      socket.unshift(seen);
      if (protocol === 'h2') {
        // The http2 session takes bytes already read off the socket before it reads on.
        options.http2.emit('connection', socket);
      } else {
        // The HTTP/1.1 parser reads the connection natively from here on; resuming flushes the
        // bytes put back to it first (in this tick, before any further read completes).
        options.http1.emit('connection', socket);
        socket.resume();
      }
    };
    // Before a server has the socket nobody else listens for its errors: one must not crash the process.
    const onError = () => {
      done();
      socket.destroy();
    };
    const onEnd = () => {
      done();
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
  // An http.Server tracks its connections, and so enforces headersTimeout and requestTimeout
  // and can close idle connections, only once it has seen 'listening': it never listens
  // itself here, so it is told when the dispatcher does.
  server.on('listening', () => options.http1.emit('listening'));
  return server;
}
