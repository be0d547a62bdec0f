/**
 * Forwarding to HTTP/2 upstreams (routes with `upstream_protocol: h2c` or `h2`), for HTTP/2
 * clients (`forward`) and HTTP/1.1 clients (`forwardHttp1`). Bodies stream both ways with
 * HTTP/2 flow control (pipes with backpressure, never a whole body in memory), response
 * headers and trailers are relayed as they come — trailers-only answers as one HEADERS frame —
 * and a reset on either side resets the other. gRPC calls (`content-type: application/grpc…`)
 * also get: `te: trailers` upstream, the client's `grpc-timeout` enforced here as well as
 * forwarded, and an upstream that cannot be reached answered as `grpc-status` 14 UNAVAILABLE.
 */
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { IncomingHttpHeaders as Http1Headers, IncomingMessage, ServerResponse } from 'node:http';
import type { ForwardFailure, ForwardResult } from './http-forwarder.js';
import { resetStream, UpstreamExchange, whenResponseEnds, type ExchangeHooks, type ResponseHeaders } from './http2-exchange.js';
import { isGrpc } from '../../http/grpc-protocol.js';
import { callDeadlineMs, clientResponseHeaders, upstreamRequestHeaders, type Http2Target } from './http2-headers.js';
import { Http1Call } from './http2-http1-call.js';
import { encodeGrpcMessage } from '../../http/grpc-protocol.js';
import { Http2SessionPool } from './http2-session-pool.js';

export type { Http2Target } from './http2-headers.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/**
 * Requests waiting per origin when every session is full. Sessions open on demand up to
 * proxy.upstream_connections, each carrying what its peer allows (100 streams or more), so a
 * queue forms only past thousands of streams in flight; it is bounded so that a stalled
 * upstream costs a fixed amount of memory, and the wait in it counts toward the deadline.
 */
const MAX_QUEUED = 1_024;
const CONNECT_TIMEOUT_MS = 5_000;
/** Sessions without streams are closed after this; the next request opens one again. */
const IDLE_TIMEOUT_MS = 60_000;

export interface Http2ForwardResult {
  /** The HTTP status the client was sent; undefined when nothing was (see `failure`). */
  status?: number;
  /** The `grpc-status` the client was sent (trailers, or a trailers-only answer). */
  grpcStatus?: string;
  /** Why the exchange failed. */
  error?: Error;
  /**
   * What failed. With `status` undefined and `failure.status` not 0, nothing was answered and
   * the caller answers it (a non-gRPC request: 502, 503 or 504); a gRPC call is always answered here.
   */
  failure?: ForwardFailure;
  /** From forwarding to the upstream's response headers (queueing for a stream included). */
  upstreamMs?: number;
}

export class Http2Forwarder {
  private readonly pools = new Map<string, Http2SessionPool>();

  /** `sessionsPerOrigin`: proxy.upstream_connections, the connections one upstream origin gets at most. */
  constructor(private readonly sessionsPerOrigin: number) {}

  /** The session pool for an upstream origin (an origin's scheme says h2c or h2). */
  pool(upstream: URL): Http2SessionPool {
    const origin = upstream.origin;
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Http2SessionPool(origin, {
        maxSessions: this.sessionsPerOrigin,
        maxQueued: MAX_QUEUED,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        idleTimeoutMs: IDLE_TIMEOUT_MS,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * An HTTP/2 client's stream to an HTTP/2 upstream. `headers`: the request headers after the
   * pipeline, without pseudo-headers. `done` is called once, when the client's response is
   * complete or the exchange failed.
   */
  forward(
    inbound: ServerHttp2Stream,
    headers: IncomingHttpHeaders | OutgoingHttpHeaders,
    target: Http2Target,
    done: (r: Http2ForwardResult) => void,
  ): void {
    new StreamCall(this.pool(target.upstream), inbound, headers, target, done).start();
  }

  /** An HTTP/1.1 client's request to an HTTP/2 upstream; the result as the HTTP/1.1 forwarder gives it. */
  forwardHttp1(
    req: IncomingMessage,
    res: ServerResponse,
    headers: Http1Headers,
    hasBody: boolean,
    target: Http2Target,
  ): Promise<ForwardResult> {
    return new Promise((resolve) => new Http1Call(this.pool(target.upstream), req, res, headers, hasBody, target, resolve).start());
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

/**
 * A gRPC answer with no messages: HTTP 200, trailers-only (one HEADERS frame that ends the
 * stream), `grpc-message` percent-encoded. A stream whose response already started is reset.
 */
export function answerGrpcStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) return stream.close(NGHTTP2_INTERNAL_ERROR);
  const encoded = encodeGrpcMessage(message);
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encoded },
    { endStream: true },
  );
}

/**
 * The code a client's stream is reset with when the upstream's was: what concerns the stream
 * passes (CANCEL stays CANCEL), what concerns the upstream connection is an INTERNAL_ERROR here.
 */
export function relayedRstCode(code: number): number {
  return code === NGHTTP2_CANCEL || code === NGHTTP2_REFUSED_STREAM || code === NGHTTP2_ENHANCE_YOUR_CALM ? code : NGHTTP2_INTERNAL_ERROR;
}

const GRPC_DEADLINE_EXCEEDED = 4;
/** The longest delay setTimeout honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const GRPC_UNAVAILABLE = 14;

/** One HTTP/2 client stream forwarded to an HTTP/2 upstream. */
class StreamCall implements ExchangeHooks {
  private readonly exchange: UpstreamExchange;
  private readonly grpc: boolean;
  private readonly started = performance.now();
  private result: Http2ForwardResult = {};
  private settled = false;
  private upstream: ClientHttp2Stream | undefined = undefined;
  private trailers: IncomingHttpHeaders | undefined = undefined;
  /** The upstream's response ended with END_STREAM (not a reset). */
  private upstreamEnded = false;
  /** Trailers the gateway sends instead of the upstream's (the deadline passed mid-response). */
  private ownTrailers: OutgoingHttpHeaders | undefined = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    pool: Http2SessionPool,
    private readonly inbound: ServerHttp2Stream,
    headers: IncomingHttpHeaders | OutgoingHttpHeaders,
    private readonly target: Http2Target,
    private readonly done: (r: Http2ForwardResult) => void,
  ) {
    const out = upstreamRequestHeaders(headers, target);
    this.grpc = isGrpc(out['content-type']);
    this.exchange = new UpstreamExchange(pool, out, inbound.endAfterHeaders ? undefined : inbound, this);
    const deadline = this.grpc ? callDeadlineMs(out['grpc-timeout']) : target.timeoutMs;
    // A timer cannot wait longer (Node fires a longer one at once): such a deadline, ~25 days
    // and more (grpc-js sends one as `2592000S` for 30 days), is left to the upstream, which gets the header.
    if (deadline !== undefined && deadline <= MAX_TIMER_MS) this.timer = setTimeout(onDeadline, deadline, this);
  }

  start(): void {
    const inbound = this.inbound;
    if (inbound.destroyed || inbound.closed) return this.clientGone();
    inbound.on('close', this.onInboundClose);
    // Errors arrive again as 'close'; a listener keeps them from crashing the process.
    inbound.on('error', noop);
    this.exchange.start();
  }

  onResponse(stream: ClientHttp2Stream, headers: ResponseHeaders, endStream: boolean): void {
    if (!this.grpc) clearTimeout(this.timer);
    const inbound = this.inbound;
    // Reset by the client in this same turn, before its 'close' event: respond() would throw.
    if (inbound.destroyed || inbound.closed) return this.clientGone();
    this.upstream = stream;
    this.result.upstreamMs = performance.now() - this.started;
    this.result.status = Number(headers[':status']);
    const out = clientResponseHeaders(headers, this.target.responseHeaders, true);
    this.target.editResponseHeaders?.(out as Record<string, string | string[]>);
    if (endStream) {
      // Trailers-only (a gRPC status with no messages), a HEAD, a 204: one HEADERS frame.
      this.result.grpcStatus = stringOf(headers['grpc-status']);
      inbound.respond(out, { endStream: true });
      return this.settle();
    }
    inbound.respond(out, { waitForTrailers: true });
    stream.on('trailers', (t: IncomingHttpHeaders) => (this.trailers = t));
    inbound.on('wantTrailers', this.onWantTrailers);
    whenResponseEnds(stream, () => this.trailers !== undefined, this.onUpstreamEnd, this.onUpstreamReset);
    // Not ended by the pipe: Node ends a reset stream's readable side too (whenResponseEnds).
    stream.pipe(inbound, { end: false });
  }

  onFailure(err: Error, failure: ForwardFailure): void {
    this.result.error = err;
    this.result.failure = failure;
    if (this.grpc) {
      // Unreachable, refused or reset before answering: UNAVAILABLE, which gRPC clients may retry.
      answerGrpcStatus(this.inbound, GRPC_UNAVAILABLE, failure.message);
      this.result.status = 200;
      this.result.grpcStatus = String(GRPC_UNAVAILABLE);
    }
    this.settle();
  }

  /** The response body has been queued: the trailers close the stream. */
  private readonly onWantTrailers = (): void => {
    if (this.settled) return; // reset
    const t = this.ownTrailers ?? clientResponseHeaders(this.trailers ?? {}, undefined, false);
    this.result.grpcStatus = stringOf(t['grpc-status']);
    this.inbound.sendTrailers(t);
    this.settle();
  };

  /** The upstream's response ended with END_STREAM: so does the client's, with the trailers. */
  private readonly onUpstreamEnd = (): void => {
    this.upstreamEnded = true;
    if (this.ownTrailers === undefined && !this.inbound.writableEnded) this.inbound.end();
  };

  /** The upstream stream was reset before its response was complete: so is the client's, with the code relayedRstCode gives. */
  private readonly onUpstreamReset = (): void => {
    const up = this.upstream!;
    if (this.settled || this.upstreamEnded || this.ownTrailers !== undefined) return;
    const code = up.rstCode ?? NGHTTP2_INTERNAL_ERROR;
    this.result.error = new Error(`the upstream reset the stream (code ${code})`);
    this.result.failure = { kind: 'reset', status: 0, message: 'The upstream reset the stream mid-response' };
    up.unpipe(this.inbound);
    // Responded with waitForTrailers: ended, the stream sends nothing more before the reset.
    resetStream(this.inbound, relayedRstCode(code === 0 ? NGHTTP2_INTERNAL_ERROR : code));
    this.settle();
  };

  private readonly onInboundClose = (): void => {
    if (!this.settled) this.clientGone();
  };

  /** The client reset its stream or went away: the upstream's is cancelled. */
  private clientGone(): void {
    this.exchange.cancel(NGHTTP2_CANCEL);
    this.result.error = new Error('client went away');
    this.result.failure = { kind: 'client_abort', status: 0, message: 'client went away' };
    this.settle();
  }

  /** The gRPC deadline passed (or, not gRPC, the response headers took longer than timeoutMs). */
  deadlinePassed(): void {
    if (this.settled) return;
    this.exchange.cancel(NGHTTP2_CANCEL);
    this.result.error = new Error('upstream deadline');
    if (!this.grpc) {
      this.result.failure = { kind: 'timeout', status: 504, message: 'The upstream did not answer in time' };
      return this.settle();
    }
    this.result.failure = { kind: 'timeout', status: 0, message: 'Deadline exceeded' };
    const inbound = this.inbound;
    if (!inbound.headersSent) {
      answerGrpcStatus(inbound, GRPC_DEADLINE_EXCEEDED, 'Deadline exceeded');
      this.result.status = 200;
      this.result.grpcStatus = String(GRPC_DEADLINE_EXCEEDED);
      return this.settle();
    }
    // Mid-response: what was relayed stands; the call ends with the gateway's trailers.
    this.upstream?.unpipe(inbound);
    this.ownTrailers = { 'grpc-status': String(GRPC_DEADLINE_EXCEEDED), 'grpc-message': 'Deadline exceeded' };
    if (!inbound.writableEnded) inbound.end();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.inbound.off('close', this.onInboundClose);
    this.done(this.result);
  }
}

function onDeadline(call: StreamCall): void {
  call.deadlinePassed();
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : undefined;
}

function noop(): void {}
