import type { Server, ServerOptions } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';

export class ListenError extends Error {}

/** The admin listener's limits: its callers (probes, Prometheus, forward-auth proxies) send small requests. */
export const ADMIN_HEADERS_TIMEOUT_MS = 10_000;
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Server options that make the header and request timeouts hold. Node checks them only every
 * `connectionsCheckingInterval` (30 s by default), so a 10 s headers timeout used to cut a
 * slowloris connection after 10–40 s; checking every second (more often for timeouts under
 * 2 s) enforces them to within about a second. 0 disables a timeout, as in Node.
 */
export function enforcedTimeouts(headersTimeout: number, requestTimeout: number): ServerOptions {
  const active = [headersTimeout, requestTimeout].filter((t) => t > 0);
  // The floor keeps a tiny configured timeout from turning the sweep into a busy loop.
  const connectionsCheckingInterval = Math.max(100, Math.min(1_000, ...active.map((t) => Math.floor(t / 2))));
  return { headersTimeout, requestTimeout, connectionsCheckingInterval };
}

/** Listens and resolves the actual URL; a taken port is a clear one-line error, not a stack. */
export function listen(server: NetServer, host: string, port: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const where = `${host}:${port}`;
      if (err.code === 'EADDRINUSE')
        reject(new ListenError(`${what}: ${where} is already in use (choose another port in the configuration)`));
      else if (err.code === 'EACCES') reject(new ListenError(`${what}: not permitted to listen on ${where}`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new ListenError(`${what}: ${host} is not an address of this machine`));
      else reject(new ListenError(`${what}: cannot listen on ${where} (${err.code ?? err.message})`));
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') return resolve(`http://${host}:${port}`);
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve(`http://${h}:${addr.port}`);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** The servers behind one listener: its HTTP/1.1 server and, with HTTP/2 on, the HTTP/2 sessions. */
export interface ServedBy {
  readonly http1: Server;
  readonly http2?: { closeSessions(): void; destroySessions(): void };
  /** Every open connection the listener accepted, whichever server has it, if any yet. */
  readonly accepted: ReadonlySet<Socket>;
}

/**
 * Stops accepting, lets in-flight requests finish within `graceMs`, then closes what is left,
 * including what `onGraceExpired` closes (upgraded sockets the server no longer manages).
 * `listening` is the server that accepted the connections: the HTTP/1.1 server itself, or the
 * h2c dispatcher in front of `servedBy`. HTTP/2 sessions are sent GOAWAY at once, so clients
 * open no new streams on them while their open streams finish.
 */
export function closeGracefully(listening: NetServer, graceMs: number, onGraceExpired?: () => void, servedBy?: ServedBy): Promise<void> {
  const http1 = servedBy?.http1 ?? (listening as Server);
  return new Promise((resolve) => {
    if (!listening.listening) return resolve();
    const timer = setTimeout(() => {
      http1.closeAllConnections();
      servedBy?.http2?.destroySessions();
      // Including connections the dispatcher has not handed on yet (no protocol seen).
      for (const socket of servedBy?.accepted ?? []) socket.destroy();
      onGraceExpired?.();
    }, graceMs);
    timer.unref();
    // Resolves once every connection the listener accepted is closed, whichever server served it.
    listening.close(() => {
      clearTimeout(timer);
      resolve();
    });
    if (listening !== http1) http1.close(); // its keep-alive handling stops as if it had listened itself
    http1.closeIdleConnections();
    servedBy?.http2?.closeSessions();
  });
}
