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

/** A listening server that hands its connections to an http.Server (src/http/tls-dispatch.ts, h2c-dispatch.ts). */
export interface Front extends NetServer {
  /** Closes what is still open at the end of the grace period (connections not yet handed over). */
  closeAllConnections?(): void;
}

/**
 * Stops accepting, lets in-flight requests finish within `graceMs`, then closes what is left,
 * including what `onGraceExpired` closes (upgraded sockets the server no longer manages, HTTP/2
 * sessions). With `front`, that is the listening server (a TLS or h2c front) and `server` is
 * handed its connections; the front resolves once every connection it accepted is closed.
 */
export function closeGracefully(server: Server, graceMs: number, onGraceExpired?: () => void, front?: Front): Promise<void> {
  const listening: NetServer = front ?? server;
  return new Promise((resolve) => {
    if (!listening.listening) return resolve();
    const timer = setTimeout(() => {
      server.closeAllConnections();
      front?.closeAllConnections?.();
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
