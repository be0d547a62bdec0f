/**
 * What the data plane sees of tracing. Types only: the hot-path modules import this file and
 * nothing of the SDK, which is loaded (dynamically) only when tracing is on. When it is off,
 * the gateway's `tracing` is undefined and every hook is one `?.` on it or on a request trace.
 *
 * Spans are parented explicitly through these objects rather than through an
 * AsyncLocalStorage context manager: the request knows its own trace, and nothing pays for
 * async context tracking.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHead } from '../../http/request.js';

export interface Tracing {
  /**
   * Starts the server span of a request, continuing the caller's W3C trace context when its
   * `traceparent` is valid. The caller's context only parents spans and decides sampling under
   * a parent-based sampler; nothing security-related reads it.
   */
  startRequest(req: RequestHead, kind: 'proxy' | 'decision' | 'websocket'): RequestTrace;
  /** Ends the request span started for `req`, if any. Returns its trace id for the access line. */
  finishRequest(req: RequestHead, route: string, status: number): string | undefined;
  /** Flushes what is queued to the exporter. */
  shutdown(): Promise<void>;
}

export interface RequestTrace {
  /** The canonical path (never the query string: it can hold tokens). */
  setPath(path: string): void;
  /** Child span `session lookup`. */
  startLookup(): LookupTrace;
  /**
   * Child client span `upstream`; writes its `traceparent`/`tracestate` into `headers`,
   * replacing whatever the caller sent.
   */
  startUpstream(headers: IncomingHttpHeaders, origin: URL, method: string): UpstreamTrace;
  /** Writes the request span's own context into `headers` (WebSocket handshakes: no upstream span). */
  inject(headers: IncomingHttpHeaders): void;
}

/** How the session cache answered: the resolver's metric outcome, or `disabled` without a cache. */
export type CacheOutcome = 'hit' | 'negative_hit' | 'miss' | 'coalesced' | 'disabled';

export interface LookupTrace {
  cache(outcome: CacheOutcome): void;
  /** Child client span `kratos whoami`; its context goes to Kratos in `headers`. */
  startWhoami(): WhoamiTrace;
  end(resolution: 'authenticated' | 'unauthenticated' | 'unavailable' | 'step_up'): void;
}

export interface WhoamiTrace {
  /** `traceparent` (and `tracestate`) for the whoami request. */
  readonly headers: Record<string, string>;
  /** `result` is `active`, `unauthorized` or the failure reason; failures mark the span as an error. */
  end(result: string, failed: boolean): void;
}

export interface UpstreamTrace {
  /** `status` 0 when the upstream broke mid-response; `failure` the error kind. */
  end(status: number, failure?: string): void;
}
