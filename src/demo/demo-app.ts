/**
 * The quickstart's demo upstream: a plain node:http app behind the gateway that shows what
 * an upstream receives. `GET /` is an HTML page, `/echo/*` answers the request as JSON, and
 * `/ws` echoes WebSocket messages (to show upgrades pass the gateway).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import { DEMO_CSS, renderAppPage, type AssertionView } from './page.js';
import { createAssertionVerifier, type AssertionVerifier, type DemoAssertionOptions } from './assertion.js';

export interface DemoUpstreamOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Where "Log out" points; the v0.6 browser logout endpoint behind the gateway mount by default. */
  logoutUrl?: string;
  /** Where "Account settings" points: a settings flow init, which then lands on the settings UI. */
  settingsUrl?: string;
  /** Verify the gateway's identity assertion and show its claims (identity_assertion.enabled). */
  assertion?: DemoAssertionOptions;
}

export interface DemoUpstream {
  url: string;
  close(): Promise<void>;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'self'; script-src 'none'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

export function handleDemoRequest(
  req: IncomingMessage,
  res: ServerResponse,
  links: { logoutUrl: string; settingsUrl: string },
  verifier?: AssertionVerifier,
): void {
  const path = pathOf(req);
  if (path === '/echo' || path.startsWith('/echo/')) {
    // Drain any body so keep-alive connections stay usable; the echo reports the head only.
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, path: req.url ?? '/', headers: req.headers });
      send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body);
    });
    return;
  }
  req.resume();
  const readOnly = req.method === 'GET' || req.method === 'HEAD';
  if (path === '/demo.css' && readOnly) {
    return send(res, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }, DEMO_CSS);
  }
  if (path === '/' && readOnly) {
    if (verifier === undefined) return send(res, 200, PAGE_HEADERS, renderAppPage(req, links));
    // Verified the way an upstream should: signature against the gateway's JWKS, issuer, audience, expiry.
    void verifier.verify(req).then(
      (assertion: AssertionView) => send(res, 200, PAGE_HEADERS, renderAppPage(req, links, assertion)),
      () => send(res, 500, { 'content-type': 'text/plain; charset=utf-8' }, 'Internal Server Error\n'),
    );
    return;
  }
  if (path === '/') return send(res, 405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }, 'Method Not Allowed\n');
  send(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'Not Found\n');
}

export async function startDemoUpstream(opts: DemoUpstreamOptions): Promise<DemoUpstream> {
  const links = {
    logoutUrl: opts.logoutUrl ?? '/.ory/kratos/public/self-service/browser/flows/logout',
    settingsUrl: opts.settingsUrl ?? '/.ory/kratos/public/self-service/settings/browser',
  };
  const log = opts.logger.child({ component: 'demo-upstream' });
  const verifier = opts.assertion === undefined ? undefined : createAssertionVerifier(opts.assertion);
  const server = http.createServer((req, res) => handleDemoRequest(req, res, links, verifier));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('error', (err) => log.debug({ err }, 'websocket error'));
  });
  server.on('upgrade', (req, socket, head) => {
    if (pathOf(req) !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url }, 'demo upstream listening');

  return {
    url,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
