/**
 * Review: nothing parsed behind a refusal that closes the connection is handled. The
 * `closing` set made the HTTP handler drop such requests, but Node hands a pipelined
 * WebSocket handshake to the `upgrade` listener instead, which did not consult it: the
 * handshake behind an HTTP/1.0 + Transfer-Encoding refusal (faulty framing, the bytes a
 * front proxy may read as the first request's body), a 404 or a 400 reached the upstream.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createServer } from 'node:http';
import { closeServer, listenOnFreePort, startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;
/** Every handshake and request the WebSocket upstream saw, by path. */
const seen: string[] = [];
const wsUpstream = createServer((req, res) => {
  seen.push(`HTTP ${req.url}`);
  res.end();
});
wsUpstream.on('upgrade', (req, socket) => {
  seen.push(`UPGRADE ${req.url}`);
  socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
});

before(async () => {
  const wsUrl = await listenOnFreePort(wsUpstream);
  stack = await startStack((u) => ({
    routes: [
      { name: 'ws', match: { path_prefix: '/ws' }, upstream: wsUrl, auth: 'anonymous', websocket: true },
      { name: 'open', match: { path_prefix: '/open' }, upstream: u.upstream, auth: 'anonymous' },
    ],
  }));
});
after(async () => {
  await stack.close();
  await closeServer(wsUpstream);
});

/** Writes `data` in one segment; resolves with what came back once the gateway closes (or after 3 s). */
function exchange(data: string): Promise<{ text: string; closed: boolean }> {
  const u = new URL(stack.gw.proxyUrl);
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(u.port), u.hostname, () => socket.write(data));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, 3_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

const handshake = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

const cases: Array<[string, string, RegExp]> = [
  [
    'HTTP/1.0 + Transfer-Encoding (400)',
    'POST /open/a HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    /^HTTP\/1\.1 400 /,
  ],
  ['no route (404) with an unread body', 'POST /nowhere HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc', /^HTTP\/1\.1 404 /],
  [
    'a rejected path (400) with an unread body',
    'POST /open/a%2Fb HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc',
    /^HTTP\/1\.1 400 /,
  ],
];

for (const [name, refused, status] of cases) {
  test(`a WebSocket handshake pipelined behind a refusal — ${name} — is never forwarded`, async () => {
    const path = `/ws/behind-${seen.length}`;
    const r = await exchange(refused + handshake(path));
    assert.match(r.text, status);
    assert.doesNotMatch(r.text, /101 Switching Protocols/);
    assert.ok(r.closed, 'the gateway left the connection open');
    await new Promise((resolve) => setTimeout(resolve, 200)); // time for a wrongly forwarded handshake to land
    assert.deepEqual(
      seen.filter((s) => s.includes(path)),
      [],
    );
  });
}

test('a WebSocket handshake on its own connection is still forwarded', async () => {
  const r = await exchange(handshake('/ws/alone'));
  assert.match(r.text, /^HTTP\/1\.1 101 /);
  assert.ok(seen.includes('UPGRADE /ws/alone'));
});
