/**
 * An HTTP/2 client on a CORS route whose upstream speaks h2c: the route's CORS headers replace
 * the upstream's, and the upstream's `Vary` is kept with `Origin` added, as on HTTP/1.1 (a cache
 * that lost `Vary: Accept-Encoding` would serve a compressed body to a client that cannot read it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import { startH2Upstream } from '../../helpers/grpc.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startH2Upstream>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

before(async () => {
  kratos = await startFakeKratos();
  upstream = await startH2Upstream((stream) =>
    stream.respond({ ':status': 200, vary: 'Accept-Encoding', 'access-control-allow-origin': '*' }, { endStream: true }),
  );
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    routes: [
      {
        name: 'api',
        match: { path_prefix: '/' },
        upstream: upstream.url,
        upstream_protocol: 'h2c',
        auth: 'anonymous',
        cors: { allowed_origins: ['https://app.example.com'] },
      },
    ],
  });
});
after(async () => {
  await gw.shutdown();
  await upstream.close();
  await kratos.close();
});

test("the upstream's Vary is kept with Origin added; its CORS headers give way to the route's", async () => {
  const session = connect(gw.proxyUrl);
  try {
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const stream = session.request({ ':path': '/x', origin: 'https://app.example.com' });
      stream.on('response', (h) => resolve(h));
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(headers[':status'], 200);
    assert.equal(headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(headers['vary'], 'Accept-Encoding, Origin');
  } finally {
    session.close();
  }
});
