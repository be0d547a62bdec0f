import type { Server, ServerOptions } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { Server as TlsServer } from 'node:tls';

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

/** Listens and resolves the actual URL (`https://` for a TLS server); a taken port is a clear one-line error, not a stack. */
export function listen(server: NetServer, host: string, port: number, what: string): Promise<string> {
  const scheme = server instanceof TlsServer ? 'https' : 'http';
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
      if (addr === null || typeof addr === 'string') return resolve(`${scheme}://${host}:${port}`);
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve(`${scheme}://${h}:${addr.port}`);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * For an http.Server that never listens itself because another server (a TLS or protocol
 * front) accepts its connections and hands them over: Node starts an HTTP server's connection
 * tracking only on its own 'listening', and without it the headers and request timeouts are
 * never enforced and closeIdleConnections() finds nothing. Told once the front listens.
 */
export function serveThrough(front: NetServer, server: Server): void {
  front.once('listening', () => server.emit('listening'));
}

/** A listening server that hands its connections to an http.Server (src/http/tls-dispatch.ts). */
export interface Front extends NetServer {
  closeAllConnections(): void;
}

/**
 * Stops accepting, lets in-flight requests finish within `graceMs`, then closes what is left,
 * including what `onGraceExpired` closes (upgraded sockets the server no longer manages).
 * With `front`, that is the listening server and `server` is handed its connections.
 */
export function closeGracefully(server: Server, graceMs: number, onGraceExpired?: () => void, front?: Front): Promise<void> {
  const listening: NetServer = front ?? server;
  return new Promise((resolve) => {
    if (!listening.listening) return resolve();
    const timer = setTimeout(() => {
      server.closeAllConnections();
      front?.closeAllConnections();
      onGraceExpired?.();
    }, graceMs);
    timer.unref();
    listening.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // The front's close waits for every connection it accepted; the server stops its timeout sweep and closes its idle ones.
    if (front !== undefined) server.close();
    else server.closeIdleConnections();
  });
}
