import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { grpcTimeoutMs, isGrpc } from '../../../src/http/grpc-protocol.js';
import { ByteBudget, serveUnary } from '../../../src/http/grpc-unary.js';

describe('gRPC request headers', () => {
  it('content-type: application/grpc and its +format and ;parameter forms', () => {
    for (const t of ['application/grpc', 'application/grpc+proto', 'Application/GRPC', 'application/grpc;charset=utf-8'])
      assert.ok(isGrpc(t), t);
    for (const t of [undefined, 'application/grpc-web', 'application/grpcx', 'application/json', 'text/plain'])
      assert.ok(!isGrpc(t), String(t));
  });

  it('grpc-timeout: up to 8 digits and a unit, in milliseconds; anything else is malformed', () => {
    assert.equal(grpcTimeoutMs(undefined), undefined);
    assert.equal(grpcTimeoutMs('2S'), 2_000);
    assert.equal(grpcTimeoutMs('1H'), 3_600_000);
    assert.equal(grpcTimeoutMs('3M'), 180_000);
    assert.equal(grpcTimeoutMs('250m'), 250);
    assert.equal(grpcTimeoutMs('1500u'), 1.5);
    assert.equal(grpcTimeoutMs('99999999n'), 99.999999);
    for (const bad of ['', 'S', '1', '1s', '-1S', '123456789S', '1.5S', ' 1S']) assert.ok(Number.isNaN(grpcTimeoutMs(bad)), bad);
    assert.ok(Number.isNaN(grpcTimeoutMs(['1S', '2S'])));
  });
});

describe('serveUnary', () => {
  async function serve(limits: { maxMessageBytes: number; maxCallMs: number; buffered?: ByteBudget }) {
    const methods = new Map([['/t.S/Echo', (req: Buffer) => Buffer.concat([Buffer.from('echo:'), req])]]);
    const server = createServer();
    server.on('stream', (stream, headers) => serveUnary(stream, headers, methods, limits));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return {
      session,
      close: async () => {
        session.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }
  const call = (session: ClientHttp2Session, body: Buffer | undefined) =>
    new Promise<{ status: string; data: string }>((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': '/t.S/Echo', 'content-type': 'application/grpc', te: 'trailers' });
      let status = '';
      let data = Buffer.alloc(0);
      stream.on('response', (h) => {
        status = String(h['grpc-status'] ?? '');
        // A trailers-only answer to a request that never ends: the client stops sending.
        if (body === undefined && status !== '') stream.close();
      });
      stream.on('trailers', (t) => (status = String(t['grpc-status'])));
      stream.on('data', (c: Buffer) => (data = Buffer.concat([data, c])));
      stream.on('error', () => {});
      stream.on('close', () => resolve({ status, data: data.subarray(5).toString() }));
      if (body === undefined) {
        stream.write(Buffer.from([0, 0, 0, 0, 2, 0x68])); // never ends
        // A generous bound, so that a server that never answers fails the assertion instead of hanging.
        setTimeout(() => stream.close(), 20_000).unref();
      } else stream.end(body);
    });

  it('answers one message and grpc-status 0; a request that never ends is DEADLINE_EXCEEDED at maxCallMs', async () => {
    const s = await serve({ maxMessageBytes: 100, maxCallMs: 300 });
    try {
      assert.deepEqual(await call(s.session, Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69])), { status: '0', data: 'echo:hi' });
      assert.deepEqual(await call(s.session, undefined), { status: '4', data: '' });
      assert.equal((await call(s.session, Buffer.concat([Buffer.from([0, 0, 0, 0, 101]), Buffer.alloc(101)]))).status, '8');
    } finally {
      await s.close();
    }
  });

  it('the bytes all calls buffer together are bounded: past the budget a call is RESOURCE_EXHAUSTED, and the budget comes back', async () => {
    // Each call may buffer up to maxMessageBytes, but many streams at once must not add up to
    // many times that: four calls each holding 60 bytes unfinished exceed a 200-byte budget.
    const s = await serve({ maxMessageBytes: 100, maxCallMs: 60_000, buffered: new ByteBudget(200) });
    try {
      const held: Array<import('node:http2').ClientHttp2Stream> = [];
      const statuses: Array<Promise<string>> = [];
      for (let i = 0; i < 4; i++) {
        const stream = s.session.request({ ':method': 'POST', ':path': '/t.S/Echo', 'content-type': 'application/grpc', te: 'trailers' });
        stream.on('error', () => {});
        statuses.push(
          new Promise((resolve) => {
            // A trailers-only answer settles the call; the client's own side is still open.
            stream.on('response', (h) => {
              if (h['grpc-status'] !== undefined) resolve(String(h['grpc-status']));
            });
            stream.on('close', () => resolve(''));
          }),
        );
        // A message announced as 95 bytes, 60 of them sent: the call waits for the rest.
        await new Promise<void>((r) => stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 95]), Buffer.alloc(55)]), () => r()));
        held.push(stream);
      }
      assert.equal(await statuses[3], '8', 'the call past the budget is refused');
      for (const stream of held.slice(0, 3)) stream.close();
      await Promise.all(statuses.slice(0, 3));
      // Released with the calls that held it: a new call fits again.
      assert.deepEqual(await call(s.session, Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69])), { status: '0', data: 'echo:hi' });
    } finally {
      await s.close();
    }
  });
});
