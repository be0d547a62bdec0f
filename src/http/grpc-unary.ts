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

export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

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
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(?:[+;]|$)/i.test(contentType);
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` in milliseconds; undefined when absent, NaN when malformed. */
export function grpcTimeoutMs(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = typeof header === 'string' ? TIMEOUT.exec(header) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : NaN;
}

/** `grpc-message` is percent-encoded: every byte outside printable ASCII, and `%`. */
function encodeGrpcMessage(message: string): string {
  return Array.from(Buffer.from(message, 'utf8'), (b) =>
    b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
}

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' };

/** A status without a message: the "trailers-only" response, one HEADERS frame that ends the stream. */
function sendStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
}

export interface UnaryLimits {
  readonly maxMessageBytes: number;
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
  { maxMessageBytes, maxCallMs }: UnaryLimits,
): void {
  let answered = false;
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
  });

  const chunks: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer) => {
    length += chunk.length;
    if (length > maxMessageBytes + 5) {
      stream.off('data', onData);
      return fail(GrpcStatus.RESOURCE_EXHAUSTED, `The request message is larger than ${maxMessageBytes} bytes`);
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
          if (stream.destroyed) return;
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
