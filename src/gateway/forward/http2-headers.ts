/**
 * Header fields between a request (HTTP/1.1 or HTTP/2) and an HTTP/2 upstream, and what gRPC
 * puts in them.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { isHopByHopResponseHeader, stripForHttp2 } from '../../http/hop-by-hop.js';
import type { ResponseHeaders } from './http2-exchange.js';

/** Where an HTTP/2 upstream request goes, as the caller matched and rewrote it. */
export interface Http2Target {
  readonly method: string;
  /** The path (and query) sent upstream: route-table.ts `upstreamPath`. */
  readonly path: string;
  /** Sent as `:authority`: the client's host, as the HTTP/1.1 forwarder sends `Host`. */
  readonly authority: string | undefined;
  /** The route's upstream; its origin selects the session pool. */
  readonly upstream: URL;
  readonly protocol: 'h2c' | 'h2';
  /**
   * The most to wait for the upstream's response headers, queueing for a stream included: the
   * route's `timeout_ms`. Not applied to gRPC, whose calls may stream for as long as the
   * client's deadline (`grpc-timeout`) allows.
   */
  readonly timeoutMs?: number | undefined;
  /** Added to the response headers (a refreshed Kratos cookie from whoami). */
  readonly responseHeaders?: Record<string, string | string[]> | undefined;
  /** Edits the response headers last (a CORS route's policy replaces the upstream's CORS headers). */
  readonly editResponseHeaders?: ((out: Record<string, string | string[]>) => void) | undefined;
}

/** `application/grpc`, `application/grpc+proto`, `application/grpc;…`: a gRPC call. */
export function isGrpc(contentType: unknown): boolean {
  if (typeof contentType !== 'string') return false;
  // Media types compare case-insensitively (RFC 9110 §8.3.1).
  const t = contentType.toLowerCase();
  if (!t.startsWith('application/grpc')) return false;
  const next = t.charCodeAt(16);
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b; /* ; */
}

const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * The longest a Node timer waits (2^31-1 ms, about 24.8 days): a longer delay fires after 1 ms.
 * `grpc-timeout` reaches 10^8 hours, and gRPC clients send a far deadline (grpc-js: "2592000S"
 * for 30 days) as it is.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The deadline `grpc-timeout` gives (at most 8 digits and a unit), in whole milliseconds;
 * undefined when absent or malformed, and when longer than a timer can wait: the gateway then
 * sets none, as for a call without a deadline (the client and the upstream, which is sent the
 * header, still keep theirs).
 */
export function grpcTimeoutMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  const ms = Math.ceil(Number(m[1]) * GRPC_TIMEOUT_UNIT_MS[m[2]!]!);
  return ms > MAX_TIMER_MS ? undefined : ms;
}

/** The request headers for an HTTP/2 upstream: pseudo-headers from `target`, nothing connection-specific. */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders, target: Http2Target): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (name.charCodeAt(0) !== 0x3a /* : */) out[name] = headers[name];
  stripForHttp2(out);
  // gRPC requires it (it tells the server the client reads trailers); the pipeline removed the client's.
  if (isGrpc(out['content-type'])) out.te = 'trailers';
  out[':method'] = target.method;
  out[':scheme'] = target.protocol === 'h2' ? 'https' : 'http';
  out[':path'] = target.path;
  if (target.authority !== undefined && target.authority !== '') out[':authority'] = target.authority;
  return out;
}

/** Response headers (or trailers) for the client: no pseudo-headers but `:status` (when `status`), nothing hop-by-hop. */
export function clientResponseHeaders(
  headers: ResponseHeaders | IncomingHttpHeaders,
  extra: Record<string, string | string[]> | undefined,
  status: boolean,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a || isHopByHopResponseHeader(name)) continue;
    out[name] = headers[name];
  }
  if (status) out[':status'] = (headers as ResponseHeaders)[':status'];
  if (extra !== undefined) {
    for (const name in extra) {
      const existing = out[name];
      out[name] = existing === undefined ? extra[name]! : ([] as Array<string | number>).concat(existing, extra[name]!).map(String);
    }
  }
  return out;
}

/** Whether an HTTP/1.1 request said it reads trailers (`TE: trailers`), from its raw headers (the pipeline removed `te`). */
export function acceptsTrailers(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'te') continue;
    if (rawHeaders[i + 1]!.split(',').some((t) => t.split(';', 1)[0]!.trim().toLowerCase() === 'trailers')) return true;
  }
  return false;
}
