/**
 * The gRPC upstream of the grpc scenario: the Echo service of bench/grpc/echo.proto over h2c.
 * argv[2]: JSON `{ impl: 'http2' | 'grpc-js' }`.
 *
 * - `grpc-js`: a `@grpc/grpc-js` server, what a Node microservice would run.
 * - `http2` (the default): the same service on bare `node:http2`, one length-prefixed message in,
 *   the same bytes out, `grpc-status: 0` in trailers. grpc-js spends several times the CPU
 *   per call; on a 2-core machine where the upstream shares the cores with the system under test
 *   and the load generator, a cheaper upstream leaves more of the machine to what is measured.
 *
 * Both honour `delay_ms` (the head-of-line check's slow call) and answer everything else at once.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serveIpc } from '../lib/proc.js';
import { Echo, grpc, type Msg, type UnaryCallback } from '../grpc/service.js';

const { impl = 'http2' } = JSON.parse(process.argv[2] ?? '{}') as { impl?: 'http2' | 'grpc-js' };

let calls = 0;

/** delay_ms (field 2, varint) of an encoded Msg; 0 when absent. Other fields are skipped. */
export function delayOf(msg: Buffer): number {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; i < msg.length && shift < 35; shift += 7) {
      const b = msg[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    return v;
  };
  while (i < msg.length) {
    const key = varint();
    const wire = key & 7;
    if (key >> 3 === 2 && wire === 0) return varint();
    if (wire === 0) varint();
    else if (wire === 2) {
      const length = varint(); // read first: `i += varint()` would add to the old `i`
      i += length;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return 0;
  }
  return 0;
}

function startBare(): Promise<number> {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
      calls++;
      const body = Buffer.concat(chunks);
      const answer = () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // The request's frame (5-byte prefix + message) is a valid reply: request and reply are both Msg.
        stream.end(body);
      };
      const delay = body.length >= 5 ? delayOf(body.subarray(5)) : 0;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function startGrpcJs(): Promise<number> {
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
  server.addService(Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: UnaryCallback) => {
      calls++;
      const delay = call.request.delay_ms ?? 0;
      if (delay > 0) setTimeout(() => cb(null, call.request), delay);
      else cb(null, call.request);
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

const port = impl === 'grpc-js' ? await startGrpcJs() : await startBare();
serveIpc({ address: `127.0.0.1:${port}`, port, impl }, { stats: () => ({ calls }) });
process.on('SIGTERM', () => process.exit(0));
