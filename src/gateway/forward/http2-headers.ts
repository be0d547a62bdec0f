/**
 * Header fields between a request (HTTP/1.1 or HTTP/2) and an HTTP/2 upstream, and what gRPC
 * puts in them.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { isHopByHopResponseHeader, stripForHttp2 } from '../../http/hop-by-hop.js';
import type { ResponseHeaders } from './http2-exchange.js';
import { grpcTimeoutMs, isGrpc, MAX_TIMER_MS } from '../../http/grpc-protocol.js';

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

/**
 * The deadline the gateway itself keeps for a call: `grpc-timeout` in whole milliseconds;
 * undefined when absent or malformed, and when longer than a timer can wait: the gateway then
 * sets none, as for a call without a deadline (the client and the upstream, which is sent the
 * header, still keep theirs).
 */
export function callDeadlineMs(header: unknown): number | undefined {
  const ms = grpcTimeoutMs(header);
  return ms === undefined || Number.isNaN(ms) || ms > MAX_TIMER_MS ? undefined : Math.ceil(ms);
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
