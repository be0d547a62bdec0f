/**
 * A unary gRPC method on an HTTP/2 stream (the gRPC over HTTP/2 protocol, PROTOCOL-HTTP2.md in
 * grpc/grpc): one length-prefixed request message in, one out, then `grpc-status` in the
 * trailers. Written by hand because @grpc/grpc-js's Server creates its own http2 servers and
 * cannot serve the streams of one the gateway already has.
 *
 * No compression (`grpc-accept-encoding: identity`); a request whose message does not fit in
 * `maxMessageBytes` is RESOURCE_EXHAUSTED; `grpc-timeout` is honoured (DEADLINE_EXCEEDED).
 */
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { encodeGrpcMessage, GrpcStatus, grpcTimeoutMs } from './grpc-protocol.js';

/** An RPC-level error a method throws: answered as its status, without a response message. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface UnaryCall {
  /** The TCP peer: the front door, not its client. */
  readonly peer: string | undefined;
  /** The HTTP/2 request headers (metadata). */
  readonly headers: IncomingHttpHeaders;
}

export type UnaryMethod = (request: Buffer, call: UnaryCall) => Uint8Array | Promise<Uint8Array>;

/** `application/grpc`, `application/grpc+proto`, `application/grpc;…`: a gRPC request. */
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' };

/** A status without a message: the "trailers-only" response, one HEADERS frame that ends the stream. */
function sendStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
}

/**
 * The request bytes all calls of a server may hold at once. Each call buffers its message until
 * the request ends, and reading as data arrives keeps HTTP/2 flow control from holding a client
 * back: without a shared bound, many streams each just under maxMessageBytes would add up.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

export interface UnaryLimits {
  readonly maxMessageBytes: number;
  /** Shared by every call of one server (see ByteBudget); absent: each call is bounded alone. */
  readonly buffered?: ByteBudget;
  /** A call not answered within this time (or its `grpc-timeout`, when shorter) is DEADLINE_EXCEEDED. */
  readonly maxCallMs: number;
}

/**
 * Serves one gRPC call on `stream`: `methods` by path (`/package.Service/Method`), anything
 * else UNIMPLEMENTED. The caller has checked that the request is gRPC (see isGrpc).
 */
export function serveUnary(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  methods: ReadonlyMap<string, UnaryMethod>,
  { maxMessageBytes, maxCallMs, buffered }: UnaryLimits,
): void {
  let answered = false;
  // What this call holds of the shared budget, given back once when the call ends either way.
  let held = 0;
  const release = () => {
    buffered?.give(held);
    held = 0;
  };
  // Set once the call is accepted; fail() may run before that.
  const deadline: { timer?: NodeJS.Timeout } = {};
  const fail = (code: number, message: string) => {
    if (answered) return;
    answered = true;
    clearTimeout(deadline.timer);
    sendStatus(stream, code, message);
    // Whatever the client still sends is read and dropped, up to one more message's worth.
    let dropped = 0;
    stream.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > maxMessageBytes) stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.resume();
  };

  const path = headers[':path'] ?? '';
  const method = headers[':method'] === 'POST' ? methods.get(path) : undefined;
  if (method === undefined) return fail(GrpcStatus.UNIMPLEMENTED, `Method not found: ${path}`);
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity')
    return fail(GrpcStatus.UNIMPLEMENTED, `Message encoding ${String(encoding)} is not supported`);
  const timeoutMs = grpcTimeoutMs(headers['grpc-timeout']);
  if (Number.isNaN(timeoutMs)) return fail(GrpcStatus.INTERNAL, 'Malformed grpc-timeout');
  // Also without a grpc-timeout: a client that never ends its request must not hold the stream.
  const deadlineMs = Math.min(timeoutMs ?? Infinity, maxCallMs);
  deadline.timer = setTimeout(() => fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.max(1, Math.ceil(deadlineMs))).unref();
  stream.once('close', () => {
    answered = true;
    clearTimeout(deadline.timer);
    release();
  });

  const chunks: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer) => {
    length += chunk.length;
    if (length > maxMessageBytes + 5) {
      stream.off('data', onData);
      release();
      return fail(GrpcStatus.RESOURCE_EXHAUSTED, `The request message is larger than ${maxMessageBytes} bytes`);
    }
    if (buffered !== undefined) {
      if (!buffered.take(chunk.length)) {
        stream.off('data', onData);
        release();
        return fail(GrpcStatus.RESOURCE_EXHAUSTED, 'The server is holding too many request bytes; retry later');
      }
      held += chunk.length;
    }
    chunks.push(chunk);
  };
  stream.on('data', onData);
  stream.once('end', () => {
    if (answered) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    // Exactly one message: a 5-byte prefix (compressed flag, big-endian length), then the message.
    if (body.length < 5 || body.length !== 5 + body.readUInt32BE(1))
      return fail(GrpcStatus.INTERNAL, 'The request is not one length-prefixed message');
    if (body[0] !== 0) return fail(GrpcStatus.INTERNAL, 'A compressed message without a message encoding');
    Promise.resolve()
      .then(() => method(body.subarray(5), { peer: stream.session?.socket?.remoteAddress, headers }))
      .then(
        (response) => {
          if (answered) return;
          answered = true;
          clearTimeout(deadline.timer);
          if (stream.destroyed || stream.closed) return;
          const prefix = Buffer.alloc(5);
          prefix.writeUInt32BE(response.length, 1);
          stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(Buffer.concat([prefix, response]));
        },
        (err: unknown) =>
          err instanceof GrpcError ? fail(err.code, err.message) : fail(GrpcStatus.INTERNAL, 'An internal error occurred'),
      );
  });
}
