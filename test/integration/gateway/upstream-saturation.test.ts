/**
 * Review: a request that cannot get an upstream connection still gets an answer. Long-lived
 * responses (SSE, long polls, big downloads to slow readers) hold pooled upstream sockets;
 * once `proxy.upstream_connections` are busy, further requests must not wait forever.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type ClientRequest, type Server } from 'node:http';
import { closeServer, listenOnFreePort, rawRequest, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let upstream: Server;
let upstreamUrl: string;
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let streamReq: ClientRequest | undefined;

before(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n'); // and never ends, like any SSE stream
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('fast');
  });
  upstreamUrl = await listenOnFreePort(upstream);
  kratos = await startFakeKratos();
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    proxy: { upstream_connections: 1 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstreamUrl, auth: 'anonymous', timeout_ms: 500 }],
  });
});
after(async () => {
  streamReq?.destroy();
  await gw.shutdown();
  await closeServer(upstream);
  await kratos.close();
});

test('with every upstream connection held by a stream, another request is answered (503/504), not queued forever', async () => {
  // One client holds the only upstream connection with an event stream.
  await new Promise<void>((resolve, reject) => {
    streamReq = request(gw.proxyUrl + '/events', (res) => {
      res.once('data', () => resolve());
    });
    streamReq.on('error', reject);
    streamReq.end();
  });
  // rawRequest gives up after 10 s; the route's upstream budget is 500 ms.
  const raw = await rawRequest(gw.proxyUrl, ['GET /fast HTTP/1.1', 'Host: app.test', 'Connection: close']).catch(
    (err: Error) => `no answer: ${err.message}`,
  );
  assert.match(raw, /^HTTP\/1\.1 (200|503|504) /, raw.slice(0, 200));
});
