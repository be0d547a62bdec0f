/**
 * Review: a refused request answers at once and ends the connection instead of
 * reading the declared body. The client here sends the headers of a 64 MB upload and a few
 * bytes, never more: it gets its answer and sees the gateway close the connection. Before,
 * the answer came but the gateway kept the connection open, waiting to read 64 MB.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    routes: [
      { name: 'api', match: { path_prefix: '/api' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'json' },
      { name: 'web', match: { path_prefix: '/web' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'redirect' },
      { name: 'open', match: { path_prefix: '/open' }, upstream: u.upstream, auth: 'anonymous' },
    ],
  }));
});
after(() => stack.close());

const BIG = 64 * 1024 * 1024;

/**
 * Writes `head` and `bodyStart`, then nothing. Resolves when the gateway ends the connection;
 * `closedByGateway` is false when the client gave up after 10 s with the connection still open.
 */
function partialUpload(baseUrl: string, head: string[], bodyStart: string): Promise<{ answer: string; closedByGateway: boolean }> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    let answer = '';
    let gaveUp = false;
    const socket = connect(Number(u.port), u.hostname, () => socket.write(head.join('\r\n') + '\r\n\r\n' + bodyStart));
    const timer = setTimeout(() => {
      gaveUp = true;
      socket.destroy();
    }, 10_000);
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', () => {}); // a reset after the answer still counts as closed by the gateway
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedByGateway: !gaveUp });
    });
  });
}

const cases: Array<[string, string[], RegExp]> = [
  ['401 on a protected API route', ['POST /api/upload HTTP/1.1', 'Host: app.test', `Content-Length: ${BIG}`], /^HTTP\/1\.1 401 /],
  [
    '302 to login on a protected page',
    ['POST /web/upload HTTP/1.1', 'Host: app.test', 'Accept: text/html', `Content-Length: ${BIG}`],
    /^HTTP\/1\.1 302 /,
  ],
  ['404 without a route', ['POST /nowhere HTTP/1.1', 'Host: app.test', `Content-Length: ${BIG}`], /^HTTP\/1\.1 404 /],
  ['400 for an encoded slash', ['POST /api/a%2Fb HTTP/1.1', 'Host: app.test', `Content-Length: ${BIG}`], /^HTTP\/1\.1 400 /],
  ['401 on a chunked upload', ['POST /api/upload HTTP/1.1', 'Host: app.test', 'Transfer-Encoding: chunked'], /^HTTP\/1\.1 401 /],
  // With Expect the client waits for 100 Continue: a refusal must come instead of it, not after.
  [
    '401 to an upload waiting for 100 Continue',
    ['POST /api/upload HTTP/1.1', 'Host: app.test', 'Expect: 100-continue', `Content-Length: ${BIG}`],
    /^HTTP\/1\.1 401 /,
  ],
];

for (const [name, head, status] of cases) {
  test(`${name}: answered without the body, Connection: close, connection ended`, async () => {
    const waits = head.includes('Expect: 100-continue');
    const r = await partialUpload(
      stack.gw.proxyUrl,
      head,
      waits ? '' : head.some((h) => h.startsWith('Transfer')) ? '400000\r\nabcd' : 'abcd',
    );
    assert.match(r.answer, status);
    assert.match(r.answer, /\r\nconnection: close\r\n/i);
    assert.ok(
      r.closedByGateway,
      `the gateway kept the connection open, still reading the body; answered ${JSON.stringify(r.answer.slice(0, 40))}`,
    );
    assert.equal(stack.upstream.received.length, 0);
  });
}

/** Sends headers with `Expect: 100-continue`, and the 5-byte body only after `100 Continue`. */
function uploadAfterContinue(path: string): Promise<string> {
  const u = new URL(stack.gw.proxyUrl);
  return new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => {
      const before = text;
      text += c.toString('latin1');
      // The body goes only after the go-ahead, as curl does.
      if (!before.includes('100 Continue') && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) socket.write('hello');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
  });
}

test('an allowed upload waiting for 100 Continue gets it, then its body reaches the upstream', async () => {
  const answer = await uploadAfterContinue('/open/upload');
  assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  assert.equal(answer.match(/100 Continue/g)?.length, 1);
  assert.equal(stack.upstream.received.at(-1)?.body, 'hello');
});

test('an upload to the Kratos mount waiting for 100 Continue gets it and is answered by Kratos', async () => {
  const answer = await uploadAfterContinue('/.ory/kratos/public/self-service/anything');
  // The fake Kratos answers 404 for everything but whoami: what matters is that it answered.
  assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 404 /);
});

test('a refused request without a body keeps its keep-alive connection', async () => {
  const u = new URL(stack.gw.proxyUrl);
  const answers = await new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(Number(u.port), u.hostname, () => {
      // Two requests on one connection: both answered means the first did not close it.
      socket.write('GET /api/a HTTP/1.1\r\nHost: app.test\r\n\r\nGET /api/b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
  });
  assert.equal(answers.match(/HTTP\/1\.1 401 /g)?.length, 2, answers);
});
