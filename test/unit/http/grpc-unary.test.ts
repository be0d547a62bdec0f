import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { grpcTimeoutMs, isGrpc, serveUnary } from '../../../src/http/grpc-unary.js';

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
  async function serve(limits: { maxMessageBytes: number; maxCallMs: number }) {
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
});
