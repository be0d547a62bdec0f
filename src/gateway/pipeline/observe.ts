/**
 * The one place a finished request is observed, for all three transports: the request
 * metrics, the tracing span's end, the access line.
 */
import type { IncomingMessage } from 'node:http';
import { AccessLog } from '../access-log.js';
import type { ConfigSnapshot } from '../config-snapshot.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { GatewayMetrics, Protocol } from '../../observability/metrics.js';
import type { Tracing } from '../../observability/tracing/types.js';
import type { RequestHead } from '../../http/request.js';

/**
 * What the access line needs that is gone by the time it is written: the TCP peer (the socket
 * is detached from a finished request), the canonical path, the snapshot the request started
 * on (its trusted proxies judge X-Forwarded-For). Captured when the request arrives.
 */
export interface Arrival {
  readonly started: number;
  readonly requestId: string;
  readonly peer: string | undefined;
  readonly snapshot: ConfigSnapshot;
  path: string | undefined;
  /** What the request came over; HTTP/1.x when not given. */
  readonly protocol?: Protocol;
  /** Set by the evaluation once the route is known: the route's CORS headers, which every answer to this request carries (pipeline/cors.ts). */
  cors?: Readonly<Record<string, string>>;
  /** Set by the observer: a request is observed once, even when a stage fails after that. */
  observed: boolean;
}

/** Kept on the request itself (a symbol property costs nothing measurable), for the failure handlers. */
const ARRIVAL = Symbol('kratos-gateway.arrival');
type ArrivedRequest = IncomingMessage & { [ARRIVAL]?: Arrival };

/** Records the request's arrival, so that a stage failure the code did not foresee is still observed. */
export function arrive(req: IncomingMessage, a: Arrival): Arrival {
  (req as ArrivedRequest)[ARRIVAL] = a;
  return a;
}

/**
 * After an unforeseen failure answered 500: observes the request, unless it was not yet
 * recorded as arrived or was observed already.
 */
export function observeFailure(observe: Observe, req: IncomingMessage): void {
  const a = (req as ArrivedRequest)[ARRIVAL];
  if (a !== undefined && !a.observed) observe(req, a, 'none', 500);
}

export type Observe = (req: RequestHead, a: Arrival, route: string, status: number, identityId?: string, upstreamMs?: number) => void;

const PROTOCOL_FIELD: Record<Protocol, string> = {
  http1: ',"protocol":"http1"',
  h2: ',"protocol":"h2"',
  h2c: ',"protocol":"h2c"',
  grpc: ',"protocol":"grpc"',
};

/** What observing a request writes to: the request metrics, the tracing span, the access log. */
export interface ObserverDeps {
  readonly config: Pick<GatewayConfig, 'log'>;
  readonly logger: Logger;
  readonly metrics: Pick<GatewayMetrics, 'request'>;
  /** Undefined when tracing is off. */
  readonly tracing?: Pick<Tracing, 'finishRequest'> | undefined;
}

/** `decision`: the forward-auth API, whose series are labelled `decision:<route>` and whose access lines say so. */
export function createObserver(g: ObserverDeps, decision = false): Observe {
  const accessLog = new AccessLog(g.logger, g.config.log.access_log);
  return (req, a, route, status, identityId, upstreamMs) => {
    if (a.observed) return;
    a.observed = true;
    const seconds = (performance.now() - a.started) / 1000;
    const method = req.method ?? 'GET';
    const protocol = a.protocol ?? 'http1';
    g.metrics.request(decision ? `decision:${route}` : route, method, status, seconds, protocol);
    const traceId = g.tracing?.finishRequest(req, route, status);
    if (!accessLog.enabled) return;
    const xff = req.headers['x-forwarded-for'];
    const client = a.snapshot.trustedProxies.clientAddress(a.peer, typeof xff === 'string' ? xff : undefined);
    const extra =
      PROTOCOL_FIELD[protocol] +
      (decision
        ? traceId === undefined
          ? ',"decision":true'
          : `,"decision":true,"trace_id":"${traceId}"`
        : traceId === undefined
          ? ''
          : `,"trace_id":"${traceId}"`);
    accessLog.write(a.requestId, client, route, method, a.path, status, Math.round(seconds * 1e4) / 10, identityId, extra, upstreamMs);
  };
}
