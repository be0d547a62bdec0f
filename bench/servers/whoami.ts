/**
 * A minimal Kratos public API for the harness (`--kratos=fake`, and for scenarios that need
 * more sessions than the embedded identity server can mint in the time budget):
 *
 * - `GET /sessions/whoami`: tokens starting with `v.` are active sessions (identity derived
 *   from the token), anything else is 401. Credential from X-Session-Token, Bearer or the
 *   `ory_kratos_session` cookie. Answers a Kratos v1 Session JSON of realistic size and the
 *   `X-Kratos-Authenticated-Identity-Id` header, like Kratos.
 * - `DELETE /self-service/logout/api` `{ "session_token": … }` and `DELETE /sessions`
 *   revoke a token (whoami answers 401 for it afterwards).
 * - Optional `--delay-ms=N` before every whoami answer (a remote Kratos).
 * - Counts whoami calls; `ask({ op: 'stats' })` returns them.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { serveIpc } from '../lib/proc.js';
import { sessionJson, uuidFrom } from '../lib/session-json.js';

const delayArg = process.argv.find((a) => a.startsWith('--delay-ms='));
const delayMs = delayArg ? Number(delayArg.split('=')[1]) : 0;
const portArg = process.argv.find((a) => a.startsWith('--port='));

let whoamiCalls = 0;
let whoamiActive = 0;
const revoked = new Set<string>();

function tokenOf(req: IncomingMessage): string | undefined {
  const h = req.headers['x-session-token'];
  if (typeof h === 'string') return h;
  const auth = req.headers.authorization;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const m = /(?:^|;\s*)ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '');
  return m?.[1];
}

const UNAUTHORIZED = JSON.stringify({
  error: {
    code: 401,
    status: 'Unauthorized',
    reason: 'No valid session credentials found in the request.',
    message: 'The request could not be authorized',
  },
});

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/sessions/whoami')) {
    whoamiCalls++;
    const answer = () => {
      const token = tokenOf(req);
      if (token === undefined || !token.startsWith('v.') || revoked.has(token)) {
        res.writeHead(401, { 'content-type': 'application/json', 'cache-control': 'private, no-cache, no-store, must-revalidate' });
        res.end(UNAUTHORIZED);
        return;
      }
      whoamiActive++;
      const body = sessionJson(token);
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-kratos-authenticated-identity-id': uuidFrom('identity:' + token),
        'cache-control': 'private, no-cache, no-store, must-revalidate',
      });
      res.end(body);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
    return;
  }
  if (req.method === 'DELETE' && (url.startsWith('/self-service/logout/api') || url.startsWith('/sessions'))) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let token = tokenOf(req);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { session_token?: string };
        token = body.session_token ?? token;
      } catch {
        /* no body */
      }
      if (token !== undefined) revoked.add(token);
      res.writeHead(204);
      res.end();
    });
    return;
  }
  if (url.startsWith('/health/')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":{"code":404}}');
});

server.listen(portArg ? Number(portArg.split('=')[1]) : 0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveIpc(
    { url: `http://127.0.0.1:${port}`, port, kind: 'fake' },
    {
      stats: () => ({ whoamiCalls, whoamiActive }),
      revoke: (m) => {
        revoked.add(String(m.token));
        return { ok: true };
      },
      // Tokens are minted by name: nothing to create.
      sessions: (m) => ({ tokens: Array.from({ length: Number(m.count) }, (_, i) => `v.${String(m.prefix)}.${i}`) }),
    },
  );
});
