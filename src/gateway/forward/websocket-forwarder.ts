import type { IncomingMessage } from 'node:http';
import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';

/**
 * WebSocket upgrades through http-proxy-3 (the maintained successor of http-proxy 1.18,
 * which crashes on `Trailer` and leaks sockets). The gateway authenticates and rewrites
 * `req.url`/`req.headers` before handing the socket over; the proxy only pipes bytes.
 */
export class WebSocketForwarder {
  private readonly proxy: ProxyServer;
  private readonly agent = new Agent({ keepAlive: false });

  constructor(onError: (err: Error, req: IncomingMessage) => void) {
    this.proxy = createProxyServer({ ws: true, xfwd: false, prependPath: false, agent: this.agent, proxyTimeout: 30_000 });
    this.proxy.on('error', (err: Error, req: IncomingMessage, target: unknown) => {
      onError(err, req);
      const socket = target as Duplex | undefined;
      if (socket && typeof socket.destroy === 'function') socket.destroy();
    });
  }

  forward(req: IncomingMessage, socket: Duplex, head: Buffer, origin: string): void {
    this.proxy.ws(req, socket, head, { target: origin });
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
  }
}
