/**
 * Review: an HTTP/1.0 request with Transfer-Encoding has faulty framing
 * (RFC 9112 §6.1). The gateway answers 400 and closes, and forwards nothing — neither the
 * request nor anything behind it on the connection. Before, llhttp decoded the body as chunked
 * and the upstream executed the request while the client was told 400.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
  }));
});
after(() => stack.close());

const cases: Array<[string, string[], string]> = [
  ['chunked body only', ['POST /a HTTP/1.0', 'Host: app.test', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'],
  ['chunked body and trailing bytes', ['POST /a HTTP/1.0', 'Host: app.test', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\nXYZ'],
  [
    'a second request behind it',
    ['POST /a HTTP/1.0', 'Host: app.test', 'Transfer-Encoding: chunked'],
    '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n',
  ],
  [
    'keep-alive and a pipelined request',
    ['POST /a HTTP/1.0', 'Host: app.test', 'Connection: keep-alive', 'Transfer-Encoding: chunked'],
    '0\r\n\r\nGET /smuggled HTTP/1.0\r\nHost: app.test\r\n\r\n',
  ],
  ['an unknown coding', ['POST /a HTTP/1.0', 'Host: app.test', 'Transfer-Encoding: gzip'], 'hello'],
  [
    'Kratos mount path',
    ['POST /.ory/kratos/public/self-service/login HTTP/1.0', 'Host: app.test', 'Transfer-Encoding: chunked'],
    '0\r\n\r\n',
  ],
];

for (const [name, head, body] of cases) {
  test(`HTTP/1.0 + Transfer-Encoding (${name}): 400, connection closed, upstream receives nothing`, async () => {
    const before = stack.upstream.received.length;
    const calls = stack.kratos.state.calls;
    const raw = await rawRequest(stack.gw.proxyUrl, head, body);
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.match(raw, /Transfer-Encoding is not allowed in an HTTP\/1\.0 request/);
    assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, `more than one response: ${JSON.stringify(raw)}`);
    // Give a wrongly forwarded request time to arrive before asserting it did not.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      stack.upstream.received.slice(before).map((r) => r.url),
      [],
    );
    assert.equal(stack.kratos.state.calls, calls);
  });
}

test('HTTP/1.0 without Transfer-Encoding and HTTP/1.1 chunked are still forwarded', async () => {
  const before = stack.upstream.received.length;
  const a = await rawRequest(stack.gw.proxyUrl, ['POST /ten HTTP/1.0', 'Host: app.test', 'Content-Length: 5'], 'hello');
  assert.match(a, /^HTTP\/1\.1 200 /);
  const b = await rawRequest(
    stack.gw.proxyUrl,
    ['POST /eleven HTTP/1.1', 'Host: app.test', 'Transfer-Encoding: chunked', 'Connection: close'],
    '5\r\nhello\r\n0\r\n\r\n',
  );
  assert.match(b, /^HTTP\/1\.1 200 /);
  assert.deepEqual(
    stack.upstream.received.slice(before).map((r) => [r.url, r.body]),
    [
      ['/ten', 'hello'],
      ['/eleven', 'hello'],
    ],
  );
});

test('an HTTP/1.0 WebSocket handshake with Transfer-Encoding is refused too', async () => {
  const before = stack.upstream.received.length;
  const raw = await rawRequest(
    stack.gw.proxyUrl,
    [
      'GET /ws HTTP/1.0',
      'Host: app.test',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Transfer-Encoding: chunked',
    ],
    '0\r\n\r\n',
  );
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.equal(stack.upstream.received.length, before);
});
