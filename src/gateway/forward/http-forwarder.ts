import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { isHopByHopResponseHeader } from '../headers/hop-by-hop.js';
import type { UpstreamErrorKind } from '../../admin/metrics.js';

export interface ForwardFailure {
  kind: UpstreamErrorKind | 'client_abort';
  status: 502 | 504 | 0;
  message: string;
}

/**
 * HTTP forwarding through undici: a keep-alive pool per upstream origin, bodies streamed in
 * both directions and never buffered, hop-by-hop response headers dropped.
 */
export class HttpForwarder {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connectionsPerOrigin: number) {}

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { connections: this.connectionsPerOrigin, keepAliveTimeout: 4_000, connect: { timeout: 5_000 } });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * Streams `req` to the upstream and the answer to `res`. Resolves with the status sent, or
   * a failure the caller turns into 502/504 (when nothing was sent yet).
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    origin: string,
    path: string,
    headers: IncomingHttpHeaders,
    timeoutMs: number,
    extraResponseHeaders: Record<string, string | string[]> | undefined,
  ): Promise<{ status: number } | { failure: ForwardFailure }> {
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const hasBody = headers['content-length'] !== undefined ? headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let status = 0;
    const options: Dispatcher.RequestOptions = {
      path,
      method: req.method as Dispatcher.HttpMethod,
      headers: headers as Record<string, string | string[]>,
      body: hasBody ? req : null,
      signal: abort.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: 0,
    };
    return this.pool(origin)
      .stream(options, ({ statusCode, headers: upstreamHeaders }) => {
        status = statusCode;
        const out: Record<string, string | string[]> = {};
        for (const name in upstreamHeaders) {
          if (isHopByHopResponseHeader(name)) continue;
          const v = upstreamHeaders[name];
          if (v !== undefined) out[name] = v;
        }
        if (extraResponseHeaders) {
          for (const name in extraResponseHeaders) {
            const extra = extraResponseHeaders[name]!;
            const existing = out[name];
            out[name] = name === 'set-cookie' && existing !== undefined ? ([] as string[]).concat(existing, extra) : extra;
          }
        }
        res.writeHead(statusCode, out);
        return res;
      })
      .then(
        () => ({ status }),
        (err: unknown) => ({ failure: classify(err, abort.signal.aborted) }),
      )
      .finally(() => res.off('close', onClose));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

function classify(err: unknown, clientAborted: boolean): ForwardFailure {
  if (clientAborted) return { kind: 'client_abort', status: 0, message: 'client went away' };
  if (err instanceof undiciErrors.HeadersTimeoutError) return { kind: 'timeout', status: 504, message: 'The upstream did not answer in time' };
  if (err instanceof undiciErrors.ConnectTimeoutError) return { kind: 'timeout', status: 504, message: 'The upstream did not accept the connection in time' };
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') {
    return { kind: 'connect', status: 502, message: 'The upstream is unreachable' };
  }
  return { kind: 'reset', status: 502, message: 'The upstream connection failed' };
}
