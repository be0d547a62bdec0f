/**
 * An HTTP/1.1 client's request forwarded to an HTTP/2 upstream (an `h2c` or `h2` route): the
 * same streaming, cancellation and retry of refused streams as for HTTP/2 clients. Trailers
 * reach the client only when it said it reads them (`TE: trailers`) and the response is
 * chunked; otherwise HTTP/1.1 has nowhere to put them and they are dropped.
 */
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { IncomingHttpHeaders as Http1Headers, IncomingMessage, ServerResponse } from 'node:http';
import type { ForwardFailure, ForwardResult } from './http-forwarder.js';
import { UpstreamExchange, whenResponseEnds, type ExchangeHooks, type ResponseHeaders } from './http2-exchange.js';
import { acceptsTrailers, clientResponseHeaders, upstreamRequestHeaders, type Http2Target } from './http2-headers.js';
import type { Http2SessionPool } from './http2-session-pool.js';

export class Http1Call implements ExchangeHooks {
  private readonly exchange: UpstreamExchange;
  private readonly started = performance.now();
  private status = 0;
  private upstreamMs = 0;
  private settled = false;
  private upstream: ClientHttp2Stream | undefined = undefined;
  private trailers: IncomingHttpHeaders | undefined = undefined;
  private upstreamEnded = false;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    pool: Http2SessionPool,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    headers: Http1Headers,
    hasBody: boolean,
    private readonly target: Http2Target,
    private readonly resolve: (r: ForwardResult) => void,
  ) {
    this.exchange = new UpstreamExchange(pool, upstreamRequestHeaders(headers, target), hasBody ? req : undefined, this);
    this.timer = target.timeoutMs === undefined ? undefined : setTimeout(onDeadline, target.timeoutMs, this);
  }

  start(): void {
    this.res.on('close', this.onClientClose);
    this.exchange.start();
  }

  onResponse(stream: ClientHttp2Stream, headers: ResponseHeaders, endStream: boolean): void {
    clearTimeout(this.timer);
    const res = this.res;
    this.upstream = stream;
    this.status = Number(headers[':status']);
    this.upstreamMs = performance.now() - this.started;
    const out = clientResponseHeaders(headers, this.target.responseHeaders, false);
    this.target.editResponseHeaders?.(out as Record<string, string | string[]>);
    res.writeHead(this.status, out);
    if (endStream) {
      res.end();
      return this.settle({ status: this.status, upstreamMs: this.upstreamMs });
    }
    stream.on('trailers', (t: IncomingHttpHeaders) => (this.trailers = t));
    stream.on('data', this.onData);
    whenResponseEnds(stream, () => this.trailers !== undefined, this.onEnd, this.onUpstreamClose);
    res.on('drain', this.onDrain);
  }

  onFailure(_err: Error, failure: ForwardFailure): void {
    this.settle({ failure });
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.res.write(chunk)) this.upstream!.pause();
  };

  private readonly onDrain = (): void => {
    this.upstream?.resume();
  };

  private readonly onEnd = (): void => {
    this.upstreamEnded = true;
    if (this.trailers !== undefined && acceptsTrailers(this.req.rawHeaders)) {
      // Sent only with chunked framing (Node drops them otherwise).
      this.res.addTrailers(clientResponseHeaders(this.trailers, undefined, false) as Record<string, string>);
    }
    this.res.end();
    this.settle({ status: this.status, upstreamMs: this.upstreamMs });
  };

  /** Reset before the response was complete: the only honest signal left over HTTP/1.1 is closing the connection. */
  private readonly onUpstreamClose = (): void => {
    if (this.settled || this.upstreamEnded) return;
    this.res.destroy();
    this.settle({ failure: { kind: 'reset', status: 0, message: 'upstream failed mid-response' } });
  };

  private readonly onClientClose = (): void => {
    if (this.settled || this.res.writableFinished) return;
    this.exchange.cancel(http2.constants.NGHTTP2_CANCEL);
    this.settle({ failure: { kind: 'client_abort', status: 0, message: 'client went away' } });
  };

  deadlinePassed(): void {
    if (this.settled) return;
    this.exchange.cancel(http2.constants.NGHTTP2_CANCEL);
    this.settle({ failure: { kind: 'timeout', status: 504, message: 'The upstream did not answer in time' } });
  }

  private settle(result: ForwardResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.res.off('close', this.onClientClose);
    this.res.off('drain', this.onDrain);
    this.resolve(result);
  }
}

function onDeadline(call: Http1Call): void {
  call.deadlinePassed();
}
