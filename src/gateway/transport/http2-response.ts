/**
 * Answers on an HTTP/2 stream: the upstream response through the HTTP forwarder (a
 * ResponseSink over the stream), and the pipeline's refusals with the same bodies HTTP/1.1 gets.
 */
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ResponseSink } from '../forward/http-forwarder.js';
import { jsonErrorAnswer } from '../../http/json-error.js';
import type { Refuse } from '../pipeline/refuse.js';
import { forbiddenPage } from './forbidden-page.js';

/**
 * Headers every answer to a request carries: its `x-request-id` and, on a route with a CORS
 * policy, the CORS headers (Arrival.cors).
 */
export type AnswerHeaders = Readonly<Record<string, string>>;

/** The upstream's response written onto the stream; headers that HTTP/2 forbids were dropped as hop-by-hop already. */
export class StreamResponse implements ResponseSink {
  /** The status sent, 0 before the headers. */
  status = 0;

  constructor(
    private readonly stream: ServerHttp2Stream,
    /** Added where the upstream did not send them (its CORS headers were removed before: replaceUpstreamCors). */
    private readonly base: AnswerHeaders,
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
    for (const name in this.base) out[name] ??= this.base[name];
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
export function respondRefusal(stream: ServerHttp2Stream, r: Refuse, base: AnswerHeaders): void {
  if (r.location !== undefined) {
    return respondWhole(stream, 302, { ...base, location: r.location, 'cache-control': 'no-store', 'content-length': 0 }, undefined);
  }
  if (r.html === true) {
    const page = forbiddenPage(r.message);
    return respondWhole(stream, 403, { ...base, ...page.headers }, page.body);
  }
  respondJsonError(stream, r.status, r.message, base, r.headers, r.error);
}

/** A JSON error (a refusal, an upstream failure, an unforeseen one). */
export function respondJsonError(
  stream: ServerHttp2Stream,
  status: number,
  message: string,
  base: AnswerHeaders,
  headers?: Readonly<Record<string, string>>,
  error?: Refuse['error'],
): void {
  const answer = jsonErrorAnswer(status, message, headers, error);
  respondWhole(stream, status, { ...base, ...answer.headers, 'content-length': Buffer.byteLength(answer.body) }, answer.body);
}
