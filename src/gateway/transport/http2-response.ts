/**
 * Answers on an HTTP/2 stream: the upstream response through the HTTP forwarder (a
 * ResponseSink over the stream), and the pipeline's refusals with the same bodies HTTP/1.1 gets.
 */
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ResponseSink } from '../forward/http-forwarder.js';
import { jsonErrorBody, jsonErrorHeaders } from '../../http/json-error.js';
import type { Refuse } from '../pipeline/refuse.js';
import { forbiddenPage } from './forbidden-page.js';

/** The upstream's response written onto the stream; headers that HTTP/2 forbids were dropped as hop-by-hop already. */
export class StreamResponse implements ResponseSink {
  /** The status sent, 0 before the headers. */
  status = 0;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly requestId: string,
  ) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  /** Throws on a header HTTP/2 cannot carry (a repeated single-value field): the forwarder answers 502. */
  writeHead(status: number, headers: Record<string, string | string[]>): void {
    const out: OutgoingHttpHeaders = headers;
    out[':status'] = status;
    out['x-request-id'] ??= this.requestId;
    this.stream.respond(out);
    this.status = status;
  }

  write(chunk: Buffer): boolean {
    // A HEAD, 204 or 304 response ended with its headers.
    if (this.stream.writableEnded) return true;
    return this.stream.write(chunk);
  }

  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }

  destroy(): void {
    this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  on(event: 'close' | 'drain', listener: () => void): void {
    this.stream.on(event, listener);
  }

  off(event: 'close', listener: () => void): void {
    this.stream.off(event, listener);
  }
}

/** A complete response in one go (a refusal, the JWKS); the body is left out where HTTP/2 allows none (HEAD). */
export function respondWhole(stream: ServerHttp2Stream, status: number, headers: OutgoingHttpHeaders, body: string | undefined): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) return void stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  headers[':status'] = status;
  stream.respond(headers, { endStream: body === undefined });
  // Node ended the stream with the headers when the response may have no body.
  if (body !== undefined && !stream.writableEnded) stream.end(body);
}

/** A pipeline refusal, as HTTP/1.1 writes it (transport/http.ts writeRefusal). */
export function respondRefusal(stream: ServerHttp2Stream, r: Refuse, requestId: string): void {
  if (r.location !== undefined) {
    return respondWhole(
      stream,
      302,
      { location: r.location, 'cache-control': 'no-store', 'content-length': 0, 'x-request-id': requestId },
      undefined,
    );
  }
  if (r.html === true) {
    const page = forbiddenPage(r.message);
    return respondWhole(stream, 403, { ...page.headers, 'x-request-id': requestId }, page.body);
  }
  const body = jsonErrorBody(r.status, r.message, r.error);
  respondWhole(stream, r.status, { ...jsonErrorHeaders(body, r.headers), 'x-request-id': requestId }, body);
}

/** A JSON error (an upstream failure, an unforeseen one). */
export function respondJsonError(stream: ServerHttp2Stream, status: number, message: string, requestId: string): void {
  const body = jsonErrorBody(status, message);
  respondWhole(stream, status, { ...jsonErrorHeaders(body), 'x-request-id': requestId }, body);
}
