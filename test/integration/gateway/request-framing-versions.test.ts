/**
 * Review of the HTTP/1.0 + Transfer-Encoding refusal (request-framing.test.ts): llhttp also
 * accepts the request lines `HTTP/0.9` and `HTTP/2.0`, with headers, and decodes a chunked
 * body for them. Transfer-Encoding exists only from HTTP/1.1 on (RFC 9112 §6.1); a peer in
 * front that frames such a message another way (0.9 has no headers and no body) sees
 * different requests than the gateway. The refusal applied to the 1.0 spelling only: these
 * were forwarded with their chunked body. Now any version but HTTP/1.1 with Transfer-Encoding
 * is refused the same way.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous', websocket: true }],
  }));
});
after(() => stack.close());

for (const version of ['HTTP/0.9', 'HTTP/2.0']) {
  test(`${version} + Transfer-Encoding: 400, connection closed, nothing forwarded`, async () => {
    const before = stack.upstream.received.length;
    const raw = await rawRequest(
      stack.gw.proxyUrl,
      [`POST /te ${version}`, 'Host: app.test', 'Transfer-Encoding: chunked'],
      '5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.match(raw, new RegExp(`Transfer-Encoding is not allowed in an ${version.replace('.', '\\.')} request`));
    await new Promise((r) => setTimeout(r, 200)); // time for a wrongly forwarded request to land
    assert.deepEqual(
      stack.upstream.received.slice(before).map((r) => r.url),
      [],
    );
  });

  test(`${version} WebSocket handshake with Transfer-Encoding: 400`, async () => {
    const raw = await rawRequest(
      stack.gw.proxyUrl,
      [
        `GET /ws ${version}`,
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
  });
}

test('HTTP/1.1 chunked is still forwarded', async () => {
  const raw = await rawRequest(
    stack.gw.proxyUrl,
    ['POST /eleven HTTP/1.1', 'Host: app.test', 'Transfer-Encoding: chunked', 'Connection: close'],
    '5\r\nhello\r\n0\r\n\r\n',
  );
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.equal(stack.upstream.received.at(-1)?.body, 'hello');
});
