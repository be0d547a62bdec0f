/**
 * The embedded identity server (src/identity, the real Kratos-compatible whoami) in its own
 * process, for the harness.
 *
 * - Sessions are minted through the API registration flow (registration + session hook
 *   returns a `session_token`); argon2 is set to its cheapest parameters so minting thousands
 *   of sessions fits the time budget (hashing is not on any measured path).
 * - whoami calls are counted on the identity server's own listener (a `request` listener
 *   put in front of its handlers), so every system is counted the same way.
 * - `--delay-ms=N` puts a delaying proxy in front (a remote Kratos); systems then call it.
 */
import http, { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Pool } from 'undici';
import { serveIpc } from '../lib/proc.js';

const delayArg = process.argv.find((a) => a.startsWith('--delay-ms='));
const delayMs = delayArg ? Number(delayArg.split('=')[1]) : 0;

let whoamiCalls = 0;
const servers: http.Server[] = [];
const originalCreateServer = http.createServer;
// Count whoami on the identity server's own public listener: wrap createServer for the
// identity module (loaded below), then restore it.
(http as { createServer: unknown }).createServer = (...args: unknown[]) => {
  const server = (originalCreateServer as (...a: unknown[]) => http.Server)(...args);
  server.prependListener('request', (req: IncomingMessage) => {
    if (req.url?.startsWith('/sessions/whoami')) whoamiCalls++;
  });
  servers.push(server);
  return server;
};
syncBuiltinESMExports();
const { startIdentityServer } = await import('../../src/identity/index.js');

const schema = pathToFileURL(fileURLToPath(new URL('../../config/identity.schema.json', import.meta.url))).href;
const identity = await startIdentityServer({
  config: {
    version: 'v0.6.3-alpha.1',
    dsn: 'memory',
    identity: { default_schema_url: schema },
    selfservice: {
      default_browser_return_url: 'http://127.0.0.1/',
      flows: {
        registration: { lifespan: '1h', after: { password: { hooks: [{ hook: 'session' }] } } },
        verification: { enabled: false },
        recovery: { enabled: false },
      },
    },
    session: { lifespan: '24h' },
    secrets: { cookie: ['bench-secret-bench-secret-bench-secret'] },
    hashers: { argon2: { memory: '64KB', iterations: 1, parallelism: 1 } },
  },
  publicListen: { host: '127.0.0.1', port: 0 },
  adminListen: { host: '127.0.0.1', port: 0 },
  dsn: 'memory',
  logger: pino({ level: 'silent' }),
});
// Named imports of builtins are live bindings: restore only once the listeners exist.
(http as { createServer: unknown }).createServer = originalCreateServer;
syncBuiltinESMExports();

const direct = new Pool(identity.publicUrl, { connections: 16 });

async function register(email: string): Promise<string> {
  const init = await direct.request({ path: '/self-service/registration/api', method: 'GET', headers: { accept: 'application/json' } });
  const flow = (await init.body.json()) as { id: string };
  const res = await direct.request({
    path: `/self-service/registration?flow=${flow.id}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      method: 'password',
      password: 'correct horse battery staple 42',
      traits: { email, name: { first: 'Bench', last: 'User' } },
    }),
  });
  const body = (await res.body.json()) as { session_token?: string };
  if (res.statusCode !== 200 || !body.session_token)
    throw new Error(`registration answered ${res.statusCode}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.session_token;
}

async function mint(prefix: string, count: number): Promise<string[]> {
  const tokens = new Array<string>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        tokens[i] = await register(`${prefix}-${i}-${process.pid}@bench.example.com`);
      }
    }),
  );
  return tokens;
}

// A remote Kratos: whoami answers late by delayMs; everything else passes straight through.
let url = identity.publicUrl;
if (delayMs > 0) {
  const pool = new Pool(identity.publicUrl, { connections: 256 });
  const pass = (req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers };
    delete headers.connection;
    delete headers['keep-alive'];
    pool
      .stream(
        {
          path: req.url ?? '/',
          method: req.method as 'GET',
          headers: headers as Record<string, string>,
          body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
        },
        ({ statusCode, headers: h }) => {
          const out = { ...h };
          delete out.connection;
          delete out['keep-alive'];
          delete out['transfer-encoding'];
          res.writeHead(statusCode, out as Record<string, string>);
          return res;
        },
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  };
  const front = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url?.startsWith('/sessions/whoami')) setTimeout(() => pass(req, res), delayMs);
    else pass(req, res);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const addr = front.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

serveIpc(
  { url, port: Number(new URL(url).port), kind: 'embedded' },
  {
    stats: () => ({ whoamiCalls, servers: servers.length }),
    sessions: async (m) => ({ tokens: await mint(String(m.prefix), Number(m.count)) }),
    revoke: async (m) => {
      const res = await direct.request({
        path: '/sessions',
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_token: m.token }),
      });
      await res.body.dump();
      return { status: res.statusCode };
    },
  },
);
process.on('SIGTERM', () => {
  void identity.close().finally(() => process.exit(0));
});
