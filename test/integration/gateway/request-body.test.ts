/**
 * Review: request bodies reach the upstream whatever framing the client used.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startEchoUpstream, startTestGateway, startStack } from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let close: () => Promise<void>;

before(async () => {
  ({ upstream, gw, close } = await startStack((u) => ({
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
  })));
});
after(() => close());

function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

test('a Content-Length request body reaches the upstream', async () => {
  const raw = await rawRequest(
    gw.proxyUrl,
    ['POST /upload HTTP/1.1', 'Host: app.test', 'Content-Type: text/plain', 'Content-Length: 11', 'Connection: close'],
    'hello world',
  );
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.received.at(-1)!.body, 'hello world');
});

test('a chunked (Transfer-Encoding) request body reaches the upstream', async () => {
  const n = upstream.received.length;
  const raw = await rawRequest(
    gw.proxyUrl,
    ['POST /upload-chunked HTTP/1.1', 'Host: app.test', 'Content-Type: text/plain', 'Transfer-Encoding: chunked', 'Connection: close'],
    '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  );
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.received.length, n + 1);
  const record = upstream.received.at(-1)!;
  assert.equal(record.url, '/upload-chunked');
  assert.equal(
    record.body,
    'hello world',
    `upstream received body ${JSON.stringify(record.body)}; gateway answered ${JSON.stringify(bodyOf(raw).slice(0, 200))}`,
  );
});
