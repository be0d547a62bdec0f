/**
 * The upstream every system forwards to: plain node:http answering a small JSON body, and a
 * WebSocket echo (for scenario g). Own process. `node --import tsx bench/servers/upstream.ts [port]`
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { serveIpc } from '../lib/proc.js';

const BODY = Buffer.from('{"ok":true,"service":"bench-upstream"}');
let requests = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  requests++;
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveIpc({ url: `http://127.0.0.1:${port}`, port }, { stats: () => ({ requests }) });
});
