/**
 * Review (pins verified behaviour): WebSocket handshakes and hop-by-hop headers cannot be
 * used to spoof or drop identity, smuggle a protocol, or open a raw tunnel to the upstream.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import {
  closeServer,
  exchange,
  listenOnFreePort,
  rawRequest,
  startEchoUpstream,
  startFakeKratos,
  startTestGateway,
} from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let refusing: Server;
const refusingSaw: string[] = [];
const refusingSockets: import('node:stream').Duplex[] = [];
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

before(async () => {
  upstream = await startEchoUpstream();
  // An upstream that answers a WebSocket handshake with a plain 403 and keeps its socket open,
  // logging every request line it reads from it.
  refusing = createServer((req, res) => {
    refusingSaw.push(`${req.method} ${req.url}`);
    res.end('plain');
  });
  refusing.on('upgrade', (req, socket) => {
    refusingSaw.push(`UPGRADE ${req.url}`);
    refusingSockets.push(socket);
    socket.on('data', (d: Buffer) =>
      refusingSaw.push(
        ...d
          .toString('latin1')
          .split('\r\n')
          .filter((l) => /^[A-Z]+ \//.test(l)),
      ),
    );
    socket.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nno');
  });
  const refusingUrl = await listenOnFreePort(refusing);
  kratos = await startFakeKratos();
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    routes: [
      { name: 'refusing', match: { path_prefix: '/refusing' }, upstream: refusingUrl, auth: 'anonymous' },
      { name: 'private', match: { path_prefix: '/private' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' },
      { name: 'public', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' },
    ],
  });
});
after(async () => {
  for (const s of refusingSockets) s.destroy();
  await gw.shutdown();
  await closeServer(refusing);
  await upstream.close();
  await kratos.close();
});

function wsHandshake(path: string, extra: string[] = []): string[] {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: app.test',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...extra,
  ];
}

test('a spoofed identity header (underscore and case variants) never reaches a WebSocket upstream', async () => {
  const u = new URL(gw.proxyUrl);
  const first = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () =>
      s.write(
        wsHandshake('/ws', ['X_Kratos_Authenticated_Identity_Id: victim', 'x-KRATOS-authenticated-identity-id: victim']).join('\r\n') +
          '\r\n\r\n',
      ),
    );
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1 || buf.length < end + 6) return;
      const frame = buf.subarray(end + 4);
      const len = frame[1]! & 0x7f;
      const offset = len === 126 ? 4 : 2;
      const size = len === 126 ? frame.readUInt16BE(2) : len;
      if (frame.length < offset + size) return;
      s.destroy();
      resolve(text.slice(0, end) + '\n' + frame.subarray(offset, offset + size).toString('utf8'));
    });
    s.on('error', reject);
  });
  assert.match(first, /^HTTP\/1\.1 101 /);
  const hello = JSON.parse(first.slice(first.indexOf('\n{') + 1)) as { identity: string | null; headers: Record<string, string> };
  assert.equal(hello.identity, null);
  assert.deepEqual(
    Object.keys(hello.headers).filter((k) => k.replaceAll('_', '-').startsWith('x-kratos-')),
    [],
  );
});

test('a WebSocket handshake on a required route without a credential is 401 and the connection closes', async () => {
  const n = upstream.received.length;
  const raw = await exchange(gw.proxyUrl, wsHandshake('/private/ws').join('\r\n') + '\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 401 /);
  assert.equal(upstream.received.length, n);
});

test('Upgrade: h2c is refused (400), never forwarded', async () => {
  const raw = await exchange(
    gw.proxyUrl,
    [
      'GET /h2c HTTP/1.1',
      'Host: app.test',
      'Connection: Upgrade, HTTP2-Settings',
      'Upgrade: h2c',
      'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA',
    ].join('\r\n') + '\r\n\r\n',
  );
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.ok(!upstream.received.some((r) => r.url === '/h2c'));
});

test('after an upstream refuses the upgrade (non-101), the client connection closes: no raw tunnel to the upstream', async () => {
  const smuggled = 'GET /refusing/smuggled HTTP/1.1\r\nHost: app.test\r\nX-Kratos-Authenticated-Identity-Id: victim\r\n\r\n';
  const raw = await exchange(gw.proxyUrl, wsHandshake('/refusing/ws').join('\r\n') + '\r\n\r\n' + smuggled);
  assert.match(raw, /^HTTP\/1\.1 403 /);
  assert.ok(!refusingSaw.some((l) => l.includes('/refusing/smuggled')), `upstream read: ${JSON.stringify(refusingSaw)}`);
});

test('Connection naming the identity header cannot drop the injected identity', async () => {
  const { token, identityId } = kratos.addSession();
  const raw = await rawRequest(gw.proxyUrl, [
    'GET /private/hop HTTP/1.1',
    'Host: app.test',
    `X-Session-Token: ${token}`,
    'Connection: close, X-Kratos-Authenticated-Identity-Id, x_kratos_authenticated_identity_id, X-Forwarded-For, X-Request-Id',
  ]);
  assert.match(raw, /^HTTP\/1\.1 200 /);
  const h = upstream.received.at(-1)!.headers;
  assert.equal(h['x-kratos-authenticated-identity-id'], identityId);
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
  assert.equal(h.connection, 'keep-alive'); // undici's own; the caller's tokens are gone
  assert.equal(h['x-session-token'], undefined);
});
