/**
 * Review: the data plane's rule "a refusal sent before the request body was read ends the
 * connection" (refused-body.test.ts) did not hold on the control plane. The Kratos mount reads
 * at most 64 KiB of a body to scan it and answers 413 beyond that — with keep-alive, so Node
 * went on reading (and discarding) the rest of the declared body, 64 MB here, to reach a next
 * request. Now any control-plane answer written while a declared body is unread carries
 * `Connection: close` and the gateway ends the connection.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    routes: [{ name: 'open', match: { path_prefix: '/open' }, upstream: u.upstream, auth: 'anonymous' }],
  }));
});
after(() => stack.close());

/** Writes `head` and `body`, then nothing; resolves when the gateway ends the connection or after 5 s. */
function partialUpload(head: string, body: Buffer): Promise<{ answer: string; closedByGateway: boolean }> {
  const u = new URL(stack.gw.proxyUrl);
  return new Promise((resolve) => {
    let answer = '';
    let gaveUp = false;
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(head);
      socket.write(body);
    });
    const timer = setTimeout(() => {
      gaveUp = true;
      socket.destroy();
    }, 5_000);
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', () => {}); // a reset after the answer still counts as closed by the gateway
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedByGateway: !gaveUp });
    });
  });
}

test('a Kratos mount upload over the scan limit: 413, Connection: close, the rest of the body is not read', async () => {
  const head = `POST /.ory/kratos/public/self-service/login?flow=x HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`;
  const r = await partialUpload(head, Buffer.alloc(100 * 1024, 'a'));
  assert.match(r.answer, /^HTTP\/1\.1 413 /, stack.gw.logLines.join('\n'));
  assert.match(r.answer, /\r\nconnection: close\r\n/i);
  assert.ok(r.closedByGateway, 'the gateway kept the connection open, still reading the 64 MB body');
});

test('a Kratos mount request whose body was read keeps its keep-alive connection', async () => {
  const u = new URL(stack.gw.proxyUrl);
  const answers = await new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(Number(u.port), u.hostname, () => {
      const body = '{"a":1}';
      socket.write(
        `POST /.ory/kratos/public/self-service/x HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
          'GET /.ory/kratos/public/self-service/y HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
      );
    });
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
  });
  // The fake Kratos answers 404 for everything but whoami: two answers, one connection.
  assert.equal(answers.match(/^HTTP\/1\.1 \d{3} /gm)?.length, 2, answers);
});
