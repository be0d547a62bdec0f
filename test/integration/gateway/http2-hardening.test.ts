/**
 * HTTP/2 abuse, with frames written by hand: each flood or stall is bounded (the gateway resets
 * the stream or ends the connection), nothing of it reaches the upstream, and another client's
 * request on its own connection still completes. No assertion depends on how fast this machine
 * is: the tests wait for events, with upper bounds far above the configured timeouts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../../helpers/servers.js';
import { h2Connect, h2Once, h2Request } from '../../helpers/h2.js';
import { ErrorCode, field, Flag, frame, FrameType, RawH2, requestBlock } from '../../helpers/h2-frames.js';

/** Far above every timeout configured below: only the point where a test stops waiting. */
const PATIENCE_MS = 20_000;

const seenUpstream = (g: { stack: Stack }, path: string) => g.stack.upstream.received.filter((r) => r.url === path).length;

async function closedWithin(raw: RawH2, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    raw.closed.then(() => 'closed'),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('open'), PATIENCE_MS))),
  ]);
  clearTimeout(timer);
  raw.destroy();
  assert.equal(outcome, 'closed', `${what}: the connection was still open after ${PATIENCE_MS} ms`);
}

/** `proxy` settings on top of a gateway with one anonymous route to an echo upstream. */
function gatewayWith(proxy: Record<string, unknown>) {
  const g = { stack: undefined as unknown as Stack, host: '' };
  before(async () => {
    g.stack = await startStack((u) => ({
      proxy,
      routes: [{ name: 'anon', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
    }));
    g.host = new URL(g.stack.gw.proxyUrl).host;
  });
  after(() => g.stack.close());
  return g;
}

// The default timeouts: a flood keeps the event loop busy, and the other client's healthy
// request must not be cut by a short timeout on a slow machine.
describe('HTTP/2 hardening: floods', () => {
  const g = gatewayWith({ http2_max_concurrent_streams: 5, max_header_size: 4096 });

  /** Another client, on a connection of its own, is served while (or after) the abuse goes on. */
  async function otherClientServed(): Promise<void> {
    const res = await h2Once(g.stack.gw.proxyUrl, { ':path': '/other-client' });
    assert.equal(res.status, 200);
  }

  test('rapid reset: a few cancels are fine, thousands of HEADERS+RST_STREAM end the connection', async () => {
    const polite = await RawH2.open(g.stack.gw.proxyUrl);
    for (let id = 1; id <= 19; id += 2) {
      polite.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, requestBlock(g.host, '/cancelled')));
      polite.send(frame(FrameType.RST_STREAM, 0, id, Buffer.from([0, 0, 0, ErrorCode.CANCEL])));
    }
    // The connection still serves a request after ten cancels.
    polite.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 21, requestBlock(g.host, '/after-cancels')));
    const answered = await polite.until((f) => f.streamId === 21 && f.type === FrameType.HEADERS);
    assert.ok(answered, 'a request after ten cancels was answered');
    polite.destroy();

    const flood = await RawH2.open(g.stack.gw.proxyUrl);
    const frames: Buffer[] = [];
    for (let i = 0; i < 5_000; i++) {
      const id = 2 * i + 1;
      frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, requestBlock(g.host, '/rapid-reset')));
      frames.push(frame(FrameType.RST_STREAM, 0, id, Buffer.from([0, 0, 0, ErrorCode.CANCEL])));
    }
    flood.send(Buffer.concat(frames));
    await otherClientServed();
    await closedWithin(flood, 'rapid reset');
    assert.notEqual(flood.goawayCode(), undefined, 'the gateway said GOAWAY');
    assert.ok(seenUpstream(g, '/rapid-reset') < 5_000, 'not every reset stream was forwarded');
  });

  test('streams past proxy.http2_max_concurrent_streams are refused (REFUSED_STREAM)', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl);
    // Bodies never sent: each stream stays open.
    for (let i = 0; i < 8; i++) raw.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, requestBlock(g.host, '/held', 'POST')));
    const refusedIds = new Set<number>();
    while (refusedIds.size < 3) {
      const f = await raw.until(
        (x) => x.type === FrameType.RST_STREAM && x.payload.readUInt32BE(0) === ErrorCode.REFUSED_STREAM && !refusedIds.has(x.streamId),
      );
      assert.ok(f, `only ${refusedIds.size} streams were refused before the connection closed`);
      refusedIds.add(f.streamId);
    }
    assert.deepEqual(
      [...refusedIds].sort((a, b) => a - b),
      [11, 13, 15],
    );
    await otherClientServed();
    raw.destroy();
  });

  test('a header list larger than proxy.max_header_size is refused (431) and never forwarded', async () => {
    const session = await h2Connect(g.stack.gw.proxyUrl);
    try {
      const res = await h2Request(session, { ':path': '/big-headers', 'x-big': 'a'.repeat(5_000) });
      assert.equal(res.status, 431);
      assert.equal(seenUpstream(g, '/big-headers'), 0);
      // Just under the limit passes.
      assert.equal((await h2Request(session, { ':path': '/fits', 'x-big': 'a'.repeat(3_500) })).status, 200);
    } finally {
      session.close();
    }
  });

  test('more header fields than fit into proxy.max_header_size reset the stream', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl);
    const many = Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]);
    raw.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, requestBlock(g.host, '/many-headers', 'GET', many)));
    const reset = await raw.until((f) => f.type === FrameType.RST_STREAM && f.streamId === 1);
    assert.ok(reset);
    assert.equal(seenUpstream(g, '/many-headers'), 0);
    raw.destroy();
  });

  for (const [what, payload] of [
    ['small header fields', field('x-a', 'b')],
    ['empty frames', Buffer.alloc(0)],
  ] as const) {
    test(`a CONTINUATION flood (${what}) ends the connection; nothing is forwarded`, async () => {
      const raw = await RawH2.open(g.stack.gw.proxyUrl);
      raw.send(frame(FrameType.HEADERS, 0, 1, requestBlock(g.host, '/continuation')));
      const one = frame(FrameType.CONTINUATION, 0, 1, payload);
      raw.send(Buffer.concat(Array.from({ length: 20_000 }, () => one)));
      await otherClientServed();
      await closedWithin(raw, 'CONTINUATION flood');
      assert.equal(seenUpstream(g, '/continuation'), 0);
    });
  }

  test('a SETTINGS frame with more entries than allowed ends the connection (ENHANCE_YOUR_CALM)', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl);
    const entries = Buffer.alloc(6 * 100);
    for (let i = 0; i < 100; i++) {
      entries.writeUInt16BE(3, i * 6);
      entries.writeUInt32BE(100, i * 6 + 2);
    }
    raw.send(frame(FrameType.SETTINGS, 0, 0, entries));
    await closedWithin(raw, 'oversized SETTINGS');
    assert.equal(raw.goawayCode(), ErrorCode.ENHANCE_YOUR_CALM);
  });

  for (const [what, one] of [
    ['PING', frame(FrameType.PING, 0, 0, Buffer.alloc(8))],
    ['SETTINGS', frame(FrameType.SETTINGS, 0, 0)],
  ] as const) {
    test(`a ${what} flood from a client that never reads the acknowledgements ends its connection`, async () => {
      const raw = await RawH2.open(g.stack.gw.proxyUrl);
      await raw.until((f) => f.type === FrameType.SETTINGS);
      raw.socket.pause(); // the acknowledgements pile up on the gateway's side
      const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => one));
      // Until the gateway gives up on the connection (a bounded number of chunks: 3 M frames at most).
      for (let i = 0; i < 300 && !raw.socket.destroyed; i++) {
        if (!raw.send(chunk)) await Promise.race([new Promise((resolve) => raw.socket.once('drain', resolve)), raw.closed]);
      }
      await otherClientServed();
      await closedWithin(raw, `${what} flood`);
    });
  }
});

describe('HTTP/2 hardening: timeouts', () => {
  const g = gatewayWith({ headers_timeout_ms: 1_000, keep_alive_timeout_ms: 1_000, request_timeout_ms: 3_000 });

  test('h2 slowloris: a connection that sends the preface and no request is closed (headers_timeout_ms)', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl);
    await closedWithin(raw, 'preface only');
    assert.equal(raw.goawayCode(), ErrorCode.NO_ERROR);
  });

  test('h2 slowloris: a header block that never completes is closed with its connection', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl);
    // After the SETTINGS exchange: no frame of ours may come between HEADERS and its CONTINUATION.
    await raw.until((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
    const block = requestBlock(g.host, '/never-complete');
    raw.send(frame(FrameType.HEADERS, 0, 1, block.subarray(0, 10))); // no END_HEADERS, no CONTINUATION follows
    await closedWithin(raw, 'incomplete header block');
    assert.equal(raw.goawayCode(), ErrorCode.NO_ERROR, 'closed by the idle timeout, not for a protocol error');
    assert.equal(seenUpstream(g, '/never-complete'), 0);
  });

  test('a connection that never shows its protocol is closed (the preface timeout)', async () => {
    const raw = await RawH2.open(g.stack.gw.proxyUrl, false);
    raw.send(Buffer.from('PRI * HTTP/2.0\r\n', 'latin1'));
    await closedWithin(raw, 'half a preface');
  });

  test('an idle connection is closed after keep_alive_timeout_ms once its streams are done', async () => {
    const session = await h2Connect(g.stack.gw.proxyUrl);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    assert.equal((await h2Request(session, { ':path': '/then-idle' })).status, 200);
    assert.equal(await goaway, ErrorCode.NO_ERROR);
    await closed;
  });

  test("a stream with no traffic for request_timeout_ms is answered 408; the connection's other streams are served", async () => {
    const session = await h2Connect(g.stack.gw.proxyUrl);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/stalled-body' }, { endStream: false });
      stream.on('error', () => {});
      const status = new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
      // Another stream on the same connection is served while this one stalls.
      assert.equal((await h2Request(session, { ':path': '/beside-the-stalled-one' })).status, 200);
      assert.equal(await status, 408);
    } finally {
      session.close();
    }
  });
});
