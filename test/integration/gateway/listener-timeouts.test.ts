/**
 * Review: the configured header timeout is enforced on both listeners, not at
 * Node's 30 s connection sweep (the bounds leave slack for a busy machine below that sweep).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startStack, type Stack } from '../../helpers/servers.js';
import { ADMIN_HEADERS_TIMEOUT_MS } from '../../../src/listen.js';

const HEADERS_TIMEOUT_MS = 1_000;
let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    proxy: { headers_timeout_ms: HEADERS_TIMEOUT_MS, request_timeout_ms: 5_000 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
  }));
});
after(() => stack.close());

/**
 * A slowloris client: one header line every 200 ms, never the blank line that ends the headers.
 * Resolves with how long the server kept the connection and what it answered; gives up (and
 * reports that) after `giveUpMs`, well short of Node's 30 s default sweep.
 */
function slowloris(baseUrl: string, giveUpMs: number): Promise<{ ms: number; answer: string; cut: boolean }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${u.host}\r\n`);
      let n = 0;
      timer = setInterval(() => {
        if (socket.writable) socket.write(`X-Slow-${n++}: a\r\n`);
      }, 200);
    });
    const giveUp = setTimeout(() => socket.destroy(new Error('give up')), giveUpMs);
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', (err) => {
      if (err.message === 'give up') return; // reported through close below
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      const ms = performance.now() - started;
      resolve({ ms, answer, cut: ms < giveUpMs });
    });
  });
}

test('the proxy listener cuts a slowloris connection at the configured headers timeout, not at the 30 s sweep', async () => {
  const r = await slowloris(stack.gw.proxyUrl, 20_000);
  assert.ok(r.cut, `connection still open after ${Math.round(r.ms)} ms (headers_timeout_ms ${HEADERS_TIMEOUT_MS})`);
  assert.ok(r.ms >= HEADERS_TIMEOUT_MS - 50, `cut after ${Math.round(r.ms)} ms, before the timeout`);
  // Slack for a busy machine, well below Node's 30 s sweep, which is what this guards against.
  assert.ok(r.ms < HEADERS_TIMEOUT_MS + 10_000, `cut after ${Math.round(r.ms)} ms`);
  assert.ok(r.answer === '' || r.answer.startsWith('HTTP/1.1 408 '), `answered ${JSON.stringify(r.answer.slice(0, 60))}`);
  assert.equal(stack.upstream.received.length, 0);
});

test('the admin listener cuts a slowloris connection at its headers timeout, not at the 30 s sweep', async () => {
  const r = await slowloris(stack.gw.adminUrl, ADMIN_HEADERS_TIMEOUT_MS + 15_000);
  assert.ok(r.cut, `connection still open after ${Math.round(r.ms)} ms`);
  assert.ok(
    r.ms < ADMIN_HEADERS_TIMEOUT_MS + 10_000,
    `cut after ${Math.round(r.ms)} ms (admin headers timeout ${ADMIN_HEADERS_TIMEOUT_MS} ms)`,
  );
});
