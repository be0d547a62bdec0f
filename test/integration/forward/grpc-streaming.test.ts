/**
 * gRPC through the HTTP/2 forwarder (src/gateway/forward/http2-forwarder.ts) to an h2c
 * upstream: a real grpc-js client on one connection to a node:http2 front whose streams go to
 * the forwarder, and a real grpc-js server behind it. Every kind of call, metadata and
 * trailers, statuses, flow control, and 100 calls at once on one client connection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Http2Forwarder } from '../../../src/gateway/forward/http2-forwarder.js';
import {
  echoClient,
  grpc,
  startEchoServer,
  startFront,
  unary,
  unaryError,
  type EchoClient,
  type EchoServer,
  type Front,
  type Msg,
} from '../../helpers/grpc.js';

let upstream: EchoServer;
let forwarder: Http2Forwarder;
let front: Front;
let client: EchoClient;

before(async () => {
  upstream = await startEchoServer();
  forwarder = new Http2Forwarder(4);
  front = await startFront(forwarder, `http://${upstream.address}`, 'h2c');
  client = echoClient(front.address);
});
after(async () => {
  client.close();
  await front.close();
  await forwarder.close();
  await upstream.close();
});

function collect<T>(stream: NodeJS.ReadableStream & { on(event: 'data', l: (m: T) => void): unknown }): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

describe('calls of every kind', () => {
  test('unary: the reply, and the result the forwarder reports', async () => {
    const before = front.results.length;
    assert.deepEqual(await unary(client, { text: 'hello' }), { text: 'echo: hello', count: 0, payload: Buffer.alloc(0) });
    const r = front.results[before]!;
    assert.equal(r.status, 200);
    assert.equal(r.grpcStatus, '0');
    assert.equal(r.failure, undefined);
  });

  test('server streaming: every message, in order', async () => {
    const got = await collect<Msg>(client.ServerStream({ text: 'm', count: 50 }));
    assert.deepEqual(
      got.map((m) => m.text),
      Array.from({ length: 50 }, (_, i) => `m-${i}`),
    );
  });

  test('client streaming: every message reaches the upstream', async () => {
    const reply = await new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res!)));
      for (let i = 0; i < 20; i++) call.write({ text: `c${i}` });
      call.end();
    });
    assert.equal(reply.count, 20);
    assert.equal(reply.text, Array.from({ length: 20 }, (_, i) => `c${i}`).join(','));
  });

  test('bidi streaming: each reply arrives before the client sends the next message (nothing waits for a whole stream)', async () => {
    const call = client.Bidi();
    const replies: string[] = [];
    const next = () => new Promise<Msg>((resolve) => call.once('data', resolve));
    for (let i = 0; i < 10; i++) {
      const reply = next();
      call.write({ text: `b${i}` });
      replies.push((await reply).text ?? '');
    }
    const ended = new Promise<void>((resolve) => call.on('end', resolve));
    call.end();
    await ended;
    assert.deepEqual(
      replies,
      Array.from({ length: 10 }, (_, i) => `echo: b${i}`),
    );
  });
});

describe('metadata, trailers and statuses', () => {
  test('request metadata reaches the upstream; initial and trailing metadata come back', async () => {
    const md = new grpc.Metadata();
    md.set('x-caller', 'tests');
    const call = new Promise<{ reply: Msg; initial: grpc.Metadata; status: grpc.StatusObject }>((resolve, reject) => {
      let initial: grpc.Metadata | undefined;
      let reply: Msg | undefined;
      const c = client.Unary({ text: 'metadata' }, md, {}, (err, res) => (err ? reject(err) : (reply = res)));
      c.on('metadata', (m: grpc.Metadata) => (initial = m));
      c.on('status', (status: grpc.StatusObject) => resolve({ reply: reply!, initial: initial!, status }));
    });
    const { reply, initial, status } = await call;
    const seen = JSON.parse(reply.text!) as Record<string, string>;
    assert.equal(seen['x-caller'], 'tests');
    assert.deepEqual(initial.get('x-initial'), ['sent first']);
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(status.metadata.get('x-trailing'), ['sent last']);
  });

  test('an error status, its percent-encoded message and custom trailing metadata (text and binary) are relayed', async () => {
    for (const code of [grpc.status.NOT_FOUND, grpc.status.PERMISSION_DENIED, grpc.status.INTERNAL]) {
      const err = await unaryError(client, { text: 'fail', count: code });
      assert.equal(err.code, code);
      assert.equal(err.details, 'failed: ü 100% done');
      assert.deepEqual(err.metadata.get('x-detail'), ['why it failed']);
      assert.deepEqual(err.metadata.get('x-detail-bin'), [Buffer.from([0, 1, 2, 255])]);
    }
    // A status without messages is trailers-only upstream; the forwarder reports what it relayed.
    assert.equal(front.results.at(-1)!.grpcStatus, String(grpc.status.INTERNAL));
  });
});

test('flow control: a client that stops reading holds the upstream back (the forwarder buffers no whole stream)', async () => {
  const count = 200; // 200 × 64 KiB: far more than the HTTP/2 windows and stream buffers between them
  const call = client.ServerStream({ text: 'flow', count });
  const got: Msg[] = [];
  call.on('data', (m: Msg) => got.push(m));
  const ended = new Promise<void>((resolve, reject) => {
    call.on('end', resolve);
    call.on('error', reject);
  });
  call.pause();
  // The upstream reports after its first write that had to wait, or after writing everything.
  await new Promise<void>((resolve) => {
    const check = () => (upstream.state.blockedAfter !== undefined ? resolve() : setTimeout(check, 10));
    check();
  });
  const blockedAfter = upstream.state.blockedAfter!;
  assert.ok(blockedAfter > 0 && blockedAfter < count, `the upstream wrote ${blockedAfter} of ${count} messages before it had to wait`);
  call.resume();
  await ended;
  assert.equal(got.length, count);
  assert.equal(got.at(-1)!.text, `flow-${count - 1}`);
});

test('100 concurrent calls on one client connection are all in flight at the upstream at once, and all complete', async () => {
  upstream.state.holdUntil = 100;
  upstream.state.maxInFlight = 0;
  const c = echoClient(front.address);
  try {
    const replies = await Promise.all(
      Array.from({ length: 100 }, () => unary(c, { text: 'hold' }, new grpc.Metadata(), { deadline: Date.now() + 30_000 })),
    );
    assert.equal(replies.length, 100);
    assert.ok(replies.every((r) => r.text === 'released'));
    assert.equal(upstream.state.maxInFlight, 100);
  } finally {
    upstream.state.holdUntil = Infinity;
    c.close();
  }
});
