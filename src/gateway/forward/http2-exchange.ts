/**
 * One request to an HTTP/2 upstream, up to its response headers: a stream from the session
 * pool, the request body written to it as it arrives (with backpressure), and the whole request
 * sent again on a fresh stream when the upstream certainly did not process it — RST_STREAM
 * REFUSED_STREAM, or a GOAWAY whose last stream id is below the stream's (RFC 9113 §8.7) — so a
 * session being replaced fails no request. For that, what was sent is kept until the response
 * headers arrive, up to REPLAY_LIMIT bytes; a request that sent more is not sent again.
 */
import http2, {
  type ClientHttp2Stream,
  type Http2Stream,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { Readable } from 'node:stream';
import type { ForwardFailure } from './http-forwarder.js';
import { PoolSaturated, type Http2SessionPool, type PooledSession } from './http2-session-pool.js';

/** Body bytes kept for a retry: a unary gRPC message or a small form; a stream beyond it is not replayed. */
export const REPLAY_LIMIT = 64 * 1024;
/** Attempts per request; an upstream refusing every stream fails it after these. */
const MAX_ATTEMPTS = 3;

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

export type ResponseHeaders = IncomingHttpHeaders & IncomingHttpStatusHeader;

export interface ExchangeHooks {
  /** The upstream's (final) response headers; `endStream`: there is nothing after them (a trailers-only gRPC answer, a HEAD). */
  onResponse(stream: ClientHttp2Stream, headers: ResponseHeaders, endStream: boolean): void;
  /** No response came and none will: nothing was sent to the client. */
  onFailure(err: Error, failure: ForwardFailure): void;
}

export class UpstreamExchange {
  /** The current attempt's stream (after the response, the one that answered). */
  stream: ClientHttp2Stream | undefined = undefined;
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private attempts = 0;
  private bodyEnded: boolean;
  private bodyAttached = false;
  /** Responded, failed or cancelled: no more attempts. */
  private settled = false;
  private cancelled = false;
  private lastError: Error | undefined = undefined;
  private withdraw: () => void = noop;

  constructor(
    private readonly pool: Http2SessionPool,
    private readonly headers: OutgoingHttpHeaders,
    /** The request body, or undefined when there is none (the HEADERS frame ends the stream). */
    private readonly body: Readable | undefined,
    private readonly hooks: ExchangeHooks,
  ) {
    this.bodyEnded = body === undefined;
  }

  start(): void {
    this.attempts++;
    this.withdraw = this.pool.request(this.headers, this.body === undefined, this.onStream);
  }

  /** The client went away or the deadline passed: the upstream stream is reset with `code`; no hook is called after this. */
  cancel(code: number = NGHTTP2_CANCEL): void {
    this.settled = true;
    this.cancelled = true;
    this.withdraw();
    this.detachBody();
    const s = this.stream;
    if (s !== undefined) resetStream(s, code);
  }

  private readonly onStream = (err: Error | undefined, stream?: ClientHttp2Stream, on?: PooledSession): void => {
    this.withdraw = noop;
    if (this.settled) {
      stream?.close(NGHTTP2_CANCEL);
      return;
    }
    if (err !== undefined || stream === undefined || on === undefined) return this.fail(err ?? new Error('no upstream stream'), false);
    this.stream = stream;
    // Errors arrive again as 'close' with the stream's state; a listener keeps them from crashing the process.
    stream.on('error', (e: Error) => (this.lastError = e));
    stream.once('response', (headers: ResponseHeaders, flags: number) => {
      if (this.settled) return;
      // nghttp2 passes any three digits; a final status is 200–599 (1xx are interim and come as
      // 'headers'). Anything else is a broken upstream, answered as one (and a client's
      // respond() would throw on it, outside any handler).
      const status = Number(headers[':status']);
      if (!(status >= 200 && status <= 599)) {
        resetStream(stream, NGHTTP2_PROTOCOL_ERROR);
        return this.fail(new Error(`the upstream answered status ${String(headers[':status'])}`), true);
      }
      this.settled = true;
      this.replay = undefined;
      this.hooks.onResponse(stream, headers, (flags & NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    stream.once('close', () => this.onClose(stream, on));
    // The request's END_STREAM goes out only here (the pool opens streams with a body this way),
    // never on a cancel: the upstream must not take a cancelled upload for a complete one.
    stream.on('wantTrailers', () => {
      if (!this.cancelled) stream.sendTrailers({});
    });
    if (this.body === undefined) return;
    if (this.replay !== undefined) for (const chunk of this.replay) stream.write(chunk);
    if (this.bodyEnded) stream.end();
    else if (!this.bodyAttached) {
      this.bodyAttached = true;
      this.body.on('data', this.onData);
      this.body.once('end', this.onEnd);
    } else this.body.resume();
  };

  private onClose(stream: ClientHttp2Stream, on: PooledSession): void {
    if (this.stream === stream) this.stream = undefined;
    if (this.settled) {
      // After the response: nothing more can be sent on this stream; what the client still sends is read and dropped.
      if (this.stream === undefined) this.detachBody();
      return;
    }
    if (this.replay !== undefined && this.attempts < MAX_ATTEMPTS && on.unprocessed(stream)) {
      // The upstream never saw it: the same request on a new stream (a new session if this one is going away).
      this.body?.pause();
      this.start();
      return;
    }
    this.fail(this.lastError ?? new Error(`the upstream reset the stream (code ${stream.rstCode})`), on.ready);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.replay !== undefined) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT) this.replay = undefined;
      else this.replay.push(chunk);
    }
    const s = this.stream;
    // Between attempts (the body is paused; a chunk already under way is kept for the next one).
    if (s === undefined) {
      if (this.replay === undefined && !this.settled)
        this.fail(new Error('the upstream refused the stream after part of a large body'), true);
      return;
    }
    if (!s.write(chunk)) {
      this.body!.pause();
      s.once('drain', this.onDrain);
    }
  };

  private readonly onDrain = (): void => {
    if (this.bodyAttached) this.body!.resume();
  };

  private readonly onEnd = (): void => {
    this.bodyEnded = true;
    const s = this.stream;
    if (s !== undefined && !s.writableEnded && !s.destroyed) s.end();
  };

  /** Stops relaying the body; what is left of it is read and dropped, so the client is never stalled. */
  private detachBody(): void {
    if (!this.bodyAttached) return;
    this.bodyAttached = false;
    this.body!.off('data', this.onData);
    this.body!.off('end', this.onEnd);
    this.body!.resume();
  }

  /** `connected`: the session had been established (a stream-level failure), else the connection was never made. */
  private fail(err: Error, connected: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.withdraw();
    this.detachBody();
    this.hooks.onFailure(err, classify(err, connected));
  }
}

/**
 * Resets a stream with `code`, and only that: Node's `close(code)` on a stream whose writable
 * side is still open first ends it (END_STREAM), which the peer would take for a complete
 * message. Ended first on a stream opened with `waitForTrailers`, nothing is sent until the
 * trailers, which a reset stream never gets.
 */
export function resetStream(stream: Http2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  if (!stream.writableEnded) stream.end();
  stream.close(code);
}

/**
 * Tells how an upstream response ended: `ended` at END_STREAM, `reset` at RST_STREAM (or the
 * session's end). Node ends the readable side of a reset stream too, and sets its rstCode only
 * after that, within the same read from the socket: so an 'end' without trailers is judged
 * once that read is done (setImmediate), by the rstCode then. Trailers carry END_STREAM, so an
 * 'end' after them is an end.
 */
export function whenResponseEnds(stream: ClientHttp2Stream, sawTrailers: () => boolean, ended: () => void, reset: () => void): void {
  const judge = () => ((stream.rstCode ?? 0) === 0 ? ended() : reset());
  stream.once('end', () => (sawTrailers() ? ended() : setImmediate(judge)));
  stream.once('close', () => {
    if ((stream.rstCode ?? 0) !== 0) reset();
  });
}

function classify(err: Error, connected: boolean): ForwardFailure {
  if (err instanceof PoolSaturated) return { kind: 'connect', status: 503, message: 'The upstream has no free stream' };
  if (connected) return { kind: 'reset', status: 502, message: 'The upstream reset the stream' };
  if ((err as { code?: string }).code === 'ETIMEDOUT')
    return { kind: 'timeout', status: 504, message: 'The upstream did not accept the connection in time' };
  return { kind: 'connect', status: 502, message: 'The upstream is unreachable' };
}

function noop(): void {}
