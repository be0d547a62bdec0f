/**
 * The baseline: the same job built "the obvious way" from the design's packages, as a team
 * would write it on day one. express 5 front door, lru-cache keyed by the raw token (get/set,
 * no coalescing, no negative cache), whoami through the global fetch, http-proxy-3 with a
 * keep-alive agent (the library notes make that the documented minimum), one pino access line
 * per request (to /dev/null, like the gateway under test).
 * argv[2]: JSON `{ kratosUrl, upstreamUrl, accessLog }`.
 */
import { createServer, Agent, type IncomingMessage } from 'node:http';
import express from 'express';
import { createProxyServer } from 'http-proxy-3';
import { LRUCache } from 'lru-cache';
import { pino } from 'pino';
import { serveIpc } from '../lib/proc.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { kratosUrl: string; upstreamUrl: string; accessLog?: boolean };
const log = pino(pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 }));
const accessLog = opts.accessLog !== false;

interface Session {
  identity: { id: string; traits?: { email?: string } };
}
const cache = new LRUCache<string, Session>({ max: 100_000, ttl: 60_000 });
const proxy = createProxyServer({
  target: opts.upstreamUrl,
  agent: new Agent({ keepAlive: true, maxSockets: 128 }),
  proxyTimeout: 30_000,
  xfwd: true,
});
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":"bad gateway"}');
  } else if ('destroy' in res) res.destroy();
});

function tokenOf(req: IncomingMessage): string | undefined {
  const h = req.headers['x-session-token'];
  if (typeof h === 'string') return h;
  const m = /(?:^|;\s*)ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '');
  return m?.[1];
}

async function sessionFor(token: string): Promise<Session | undefined> {
  const cached = cache.get(token);
  if (cached) return cached;
  const r = await fetch(opts.kratosUrl + '/sessions/whoami', { headers: { 'x-session-token': token } });
  if (r.status !== 200) {
    await r.body?.cancel();
    return undefined;
  }
  const session = (await r.json()) as Session;
  cache.set(token, session);
  return session;
}

const app = express();
app.use(async (req, res) => {
  const started = performance.now();
  if (accessLog)
    res.on('finish', () =>
      log.info({ method: req.method, url: req.url, status: res.statusCode, ms: performance.now() - started }, 'request'),
    );
  const token = tokenOf(req);
  const session = token ? await sessionFor(token).catch(() => undefined) : undefined;
  if (!session) {
    res.status(401).json({ error: 'unauthorized' });
    return;
  }
  delete req.headers['x-session-token'];
  req.headers['x-user-id'] = session.identity.id;
  proxy.web(req, res);
});

const server = createServer(app);
server.on('upgrade', (req: IncomingMessage, socket, head) => {
  const token = tokenOf(req);
  void (token ? sessionFor(token).catch(() => undefined) : Promise.resolve(undefined)).then((session) => {
    if (!session) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    delete req.headers['x-session-token'];
    req.headers['x-user-id'] = session.identity.id;
    proxy.ws(req, socket, head);
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveIpc({ url: `http://127.0.0.1:${port}` }, { memory: () => ({ ...process.memoryUsage(), entries: cache.size }) });
});
process.on('SIGTERM', () => process.exit(0));
