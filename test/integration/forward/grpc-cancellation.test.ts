/**
 * Deadlines, cancellation and resets through the HTTP/2 forwarder: a client's cancel reaches
 * the upstream, an upstream's reset reaches the client, the gateway enforces `grpc-timeout`
 * itself, and an upstream that cannot answer is UNAVAILABLE in gRPC form. Upstreams are real
 * grpc-js servers, or bare node:http2 servers where the test needs a reset or a silence that
 * grpc-js would not produce.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { Http2Forwarder } from '../../../src/gateway/forward/http2-forwarder.js';
import {
  echoClient,
  grpc,
  grpcFrame,
  GRPC_RESPONSE,
  startEchoServer,
  startFront,
  startH2Upstream,
  unaryError,
  waitFor,
  type EchoServer,
  type Front,
} from '../../helpers/grpc.js';
import { freePort } from '../../helpers/servers.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

let forwarder: Http2Forwarder;
before(() => {
  forwarder = new Http2Forwarder(4);
});
after(() => forwarder.close());

/** A raw HTTP/2 gRPC call to `front`: what came back, and how the stream ended. */
async function rawCall(front: Front, extra: Record<string, string> = {}) {
  const session = http2.connect(front.url);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/kgtest.Echo/Unary',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extra,
    });
    stream.end(grpcFrame('x'));
    let headers: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    let trailersOnly = false;
    const data: Buffer[] = [];
    stream.on('response', (h, flags) => {
      headers = h;
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => data.push(c));
    stream.on('error', () => {});
    await new Promise((resolve) => stream.on('close', resolve));
    return { headers, trailers, trailersOnly, data: Buffer.concat(data), rstCode: stream.rstCode };
  } finally {
    session.close();
  }
}

describe('cancellation reaches the upstream', () => {
  let upstream: EchoServer;
  let front: Front;
  before(async () => {
    upstream = await startEchoServer();
    front = await startFront(forwarder, `http://${upstream.address}`, 'h2c');
  });
  after(async () => {
    await front.close();
    await upstream.close();
  });

  test('a client that cancels a server stream (no deadline anywhere) cancels the upstream call', async () => {
    const client = echoClient(front.address);
    try {
      const call = client.ServerStream({ text: 'hang-after-1' });
      await new Promise((resolve) => call.once('data', resolve));
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => {});
      call.cancel();
      assert.equal((await status).code, grpc.status.CANCELLED);
      await waitFor(() => upstream.state.cancelled.includes('ServerStream'), 'the upstream to see the call cancelled');
      await waitFor(() => front.results.at(-1)?.failure?.kind === 'client_abort', 'the forwarder to report the client gone');
    } finally {
      client.close();
    }
  });

  test('a client that cancels before any response cancels the upstream call', async () => {
    const client = echoClient(front.address);
    try {
      const before = upstream.state.peers.length;
      const call = client.Unary({ text: 'hang' }, new grpc.Metadata(), {}, () => {});
      await waitFor(() => upstream.state.peers.length > before, 'the upstream to receive the call');
      call.cancel();
      await waitFor(() => upstream.state.cancelled.includes('Unary'), 'the upstream to see the call cancelled');
    } finally {
      client.close();
    }
  });

  test("a client's deadline: DEADLINE_EXCEEDED, and the upstream's call is cancelled", async () => {
    const client = echoClient(front.address);
    try {
      upstream.state.cancelled.length = 0;
      const err = await unaryError(client, { text: 'hang' }, new grpc.Metadata(), { deadline: Date.now() + 300 });
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      await waitFor(() => upstream.state.cancelled.includes('Unary'), 'the upstream to see the call cancelled');
    } finally {
      client.close();
    }
  });
});

describe('the gateway enforces grpc-timeout itself', () => {
  test('nothing answered yet: a trailers-only DEADLINE_EXCEEDED, the timeout forwarded as is, the upstream stream cancelled', async () => {
    // A silent upstream that does not enforce deadlines (grpc-js servers do): only the gateway can end this.
    const upstream = await startH2Upstream(() => {});
    const front = await startFront(forwarder, upstream.url, 'h2c');
    try {
      const r = await rawCall(front, { 'grpc-timeout': '200m' });
      assert.equal(r.trailersOnly, true);
      assert.equal(r.headers?.[':status'], 200);
      assert.equal(r.headers?.['grpc-status'], '4');
      assert.equal(upstream.seen[0]!.headers['grpc-timeout'], '200m');
      await waitFor(() => upstream.seen[0]!.rstCode !== undefined, 'the upstream stream to close');
      assert.equal(upstream.seen[0]!.rstCode, NGHTTP2_CANCEL);
      assert.equal(front.results[0]!.failure?.kind, 'timeout');
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  test('mid-response: what was relayed stands and the call ends with grpc-status 4 in the trailers', async () => {
    const upstream = await startH2Upstream((stream) => {
      stream.respond(GRPC_RESPONSE);
      stream.write(grpcFrame('first'));
    });
    const front = await startFront(forwarder, upstream.url, 'h2c');
    try {
      const r = await rawCall(front, { 'grpc-timeout': '300m' });
      assert.equal(r.trailersOnly, false);
      assert.deepEqual(r.data, grpcFrame('first'));
      assert.equal(r.trailers?.['grpc-status'], '4');
      assert.equal(r.rstCode, 0);
      await waitFor(() => upstream.seen[0]!.rstCode === NGHTTP2_CANCEL, 'the upstream stream to be cancelled');
    } finally {
      await front.close();
      await upstream.close();
    }
  });
});

describe('an upstream reset reaches the client', () => {
  for (const [name, code, expected] of [
    ['CANCEL', NGHTTP2_CANCEL, grpc.status.CANCELLED],
    ['INTERNAL_ERROR', NGHTTP2_INTERNAL_ERROR, grpc.status.INTERNAL],
  ] as const) {
    test(`mid-response, RST_STREAM ${name}: the client's stream is reset the same way`, async () => {
      // Reset with nothing but RST_STREAM: Node's close() on an open stream would send END_STREAM first.
      const upstream = await startH2Upstream((stream) => {
        stream.respond(GRPC_RESPONSE, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.close(code));
        stream.end(grpcFrame('first'));
      });
      const front = await startFront(forwarder, upstream.url, 'h2c');
      const client = echoClient(front.address);
      try {
        // Data before a reset may or may not arrive (RFC 9113 §8.1); the reset itself must.
        const call = client.ServerStream({ text: 'x' });
        call.on('error', () => {});
        const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
        assert.equal(status.code, expected);
        const raw = await rawCall(front);
        assert.equal(raw.rstCode, code);
      } finally {
        client.close();
        await front.close();
        await upstream.close();
      }
    });
  }

  test('reset before any response: UNAVAILABLE, trailers-only, and the caller is told why', async () => {
    const upstream = await startH2Upstream((stream) => stream.close(NGHTTP2_INTERNAL_ERROR));
    const front = await startFront(forwarder, upstream.url, 'h2c');
    const client = echoClient(front.address);
    try {
      const err = await unaryError(client, { text: 'x' });
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      const r = front.results.at(-1)!;
      assert.equal(r.grpcStatus, '14');
      assert.equal(r.failure?.kind, 'reset');
      assert.ok(r.error instanceof Error);
      const raw = await rawCall(front);
      assert.equal(raw.trailersOnly, true);
      assert.equal(raw.headers?.['content-type'], 'application/grpc');
      assert.equal(raw.headers?.['grpc-status'], '14');
    } finally {
      client.close();
      await front.close();
      await upstream.close();
    }
  });
});

describe('an upstream that cannot be reached', () => {
  test('gRPC: UNAVAILABLE in gRPC form', async () => {
    const front = await startFront(forwarder, `http://127.0.0.1:${await freePort()}`, 'h2c');
    try {
      const raw = await rawCall(front);
      assert.equal(raw.trailersOnly, true);
      assert.equal(raw.headers?.[':status'], 200);
      assert.equal(raw.headers?.['grpc-status'], '14');
      assert.equal(raw.headers?.['grpc-message'], 'The upstream is unreachable');
      assert.equal(front.results[0]!.failure?.kind, 'connect');
    } finally {
      await front.close();
    }
  });

  test('not gRPC: nothing answered by the forwarder; the caller is handed the status to answer', async () => {
    const front = await startFront(forwarder, `http://127.0.0.1:${await freePort()}`, 'h2c');
    const session = http2.connect(front.url);
    try {
      const stream = session.request({ ':path': '/x' });
      const headers = await new Promise<IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      assert.equal(headers[':status'], 502);
      const r = front.results[0]!;
      assert.equal(r.status, undefined);
      assert.equal(r.failure?.status, 502);
      assert.equal(r.failure?.kind, 'connect');
    } finally {
      session.close();
      await front.close();
    }
  });
});
