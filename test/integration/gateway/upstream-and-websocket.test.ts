import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { request } from 'undici';
import WebSocket from 'ws';
import { closeServer, listenOnFreePort, rawRequest, startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('forwarding: upstream failures, streaming, hop-by-hop, aborts', () => {
  let upstream: Echo;
  let kratos: Kratos;
  let gw: Gateway;
  let deadUrl: string;
  let token: string;

  before(async () => {
    upstream = await startEchoUpstream();
    kratos = await startFakeKratos();
    const dead = await startFakeKratos();
    deadUrl = dead.url;
    await dead.close();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      log: { access_log: false },
      routes: [
        { name: 'dead', match: { path_prefix: '/dead' }, upstream: deadUrl, auth: 'anonymous' },
        { name: 'slow', match: { path_prefix: '/slow' }, upstream: upstream.url, auth: 'anonymous', timeout_ms: 300 },
        { name: 'nows', match: { path_prefix: '/nows' }, upstream: upstream.url, auth: 'anonymous', websocket: false },
        { name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' },
      ],
    });
    token = kratos.addSession().token;
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
  });

  test('upstream refusing connections → 502 JSON; upstream too slow → 504 JSON', async () => {
    const dead = await request(gw.proxyUrl + '/dead/x');
    assert.equal(dead.statusCode, 502);
    assert.equal(((await dead.body.json()) as { error: { code: number } }).error.code, 502);
    const slow = await request(gw.proxyUrl + '/slow');
    assert.equal(slow.statusCode, 504);
    assert.equal(((await slow.body.json()) as { error: { code: number } }).error.code, 504);
  });

  test('request and response bodies stream through intact; hop-by-hop response headers are dropped', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const res = await request(gw.proxyUrl + '/upload', {
      method: 'POST',
      headers: { 'x-session-token': token, 'content-type': 'text/plain' },
      body: big,
    });
    const seen = (await res.body.json()) as { body: string; method: string };
    assert.equal(res.statusCode, 200);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body.length, big.length);
    const status = await request(gw.proxyUrl + '/status/201', { headers: { 'x-session-token': token } });
    await status.body.dump();
    assert.equal(status.statusCode, 201);
    assert.notEqual(status.headers['keep-alive'], 'timeout=99', 'the upstream keep-alive header is hop-by-hop');
    assert.deepEqual(status.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('a Trailer header or TE from the client does not crash or confuse the gateway', async () => {
    const raw = await rawRequest(gw.proxyUrl, [
      'GET /x HTTP/1.1',
      'Host: 127.0.0.1',
      `X-Session-Token: ${token}`,
      'Trailer: X-Checksum',
      'TE: trailers',
      'Connection: close',
    ]);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const after = await request(gw.proxyUrl + '/x', { headers: { 'x-session-token': token } });
    await after.body.dump();
    assert.equal(after.statusCode, 200);
  });

  test('a client that goes away aborts the upstream request', async () => {
    let upstreamClosed: (() => void) | undefined;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const hanging = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      req.socket.on('close', () => upstreamClosed!());
    });
    const url = await listenOnFreePort(hanging);
    const g2 = await startTestGateway({
      kratos: { public_url: kratos.url },
      log: { access_log: false },
      routes: [{ name: 'h', match: { path_prefix: '/' }, upstream: url, auth: 'anonymous' }],
    });
    try {
      const controller = new AbortController();
      const res = await request(g2.proxyUrl + '/stream', { signal: controller.signal });
      assert.equal(res.statusCode, 200);
      controller.abort();
      await closed; // resolves only if the upstream socket is torn down
    } finally {
      await g2.shutdown();
      await closeServer(hanging);
    }
  });

  test('WebSocket: authenticated handshake reaches the upstream with the identity; spoofs stripped', async () => {
    const s = kratos.addSession();
    const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/ws/./chat?room=1', {
      headers: {
        'x-session-token': s.token,
        'X-Kratos-Authenticated-Identity-Id': 'spoofed',
        x_kratos_authenticated_identity_id: 'spoofed2',
      },
    });
    const [first] = (await once(ws, 'message')) as [Buffer];
    const hello = JSON.parse(String(first)) as { url: string; identity: string; headers: Record<string, string> };
    assert.equal(hello.url, '/ws/chat?room=1');
    assert.equal(hello.identity, s.identityId);
    assert.equal(hello.headers['x_kratos_authenticated_identity_id'], undefined);
    assert.equal(hello.headers['x-session-token'], undefined);
    ws.send('ping');
    const [echo] = (await once(ws, 'message')) as [Buffer];
    assert.equal(String(echo), 'ping');
    ws.close();
  });

  test('WebSocket: no credential → 401 at the handshake; non-websocket upgrades and disabled routes are refused', async () => {
    const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/ws');
    ws.on('error', () => {}); // terminate() after a refused handshake reports one; expected
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; headers: Record<string, string> }];
    assert.equal(res.statusCode, 401);
    assert.match(res.headers['www-authenticate'] ?? '', /Bearer/);
    ws.terminate();

    const h2c = await rawRequest(gw.proxyUrl, [
      'GET /x HTTP/1.1',
      'Host: 127.0.0.1',
      `X-Session-Token: ${token}`,
      'Connection: Upgrade, HTTP2-Settings',
      'Upgrade: h2c',
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    ]);
    assert.match(h2c, /^HTTP\/1\.1 400 /);

    const disabled = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/nows');
    disabled.on('error', () => {});
    const [, res2] = (await once(disabled, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res2.statusCode, 404);
    disabled.terminate();
  });
});
