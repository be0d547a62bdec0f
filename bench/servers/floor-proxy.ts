/**
 * The architecture's floor: node:http in, undici Pool.stream out, no authentication, no
 * logging, no metrics. What any Node gateway of this design pays before it does its job;
 * the gap between this and kratos-gateway is what the gateway's own work costs.
 * argv[2]: JSON `{ upstreamUrl }`.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { serveIpc } from '../lib/proc.js';

const { upstreamUrl } = JSON.parse(process.argv[2] ?? '{}') as { upstreamUrl: string };
const pool = new Pool(upstreamUrl, { connections: 128 });

const server = createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.connection;
  delete headers['x-session-token'];
  pool
    .stream(
      { path: req.url ?? '/', method: 'GET', headers: headers as Record<string, string>, body: null },
      ({ statusCode, headers: h }) => {
        delete h.connection;
        delete h['keep-alive'];
        res.writeHead(statusCode, h as Record<string, string>);
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  serveIpc({ url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
});
process.on('SIGTERM', () => process.exit(0));
