import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies still see. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Headers a `Connection` token may never remove: message framing, and everything the
 * gateway itself sets. `Connection: close, X-Kratos-Authenticated-Identity-Id` must not
 * make a hop drop the identity we inject.
 */
const NEVER_CONNECTION_SCOPED = new Set([
  'host',
  'content-length',
  'content-type',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

/**
 * Removes hop-by-hop headers and the names the `Connection` header lists. `keepUpgrade`
 * keeps `Connection`/`Upgrade` for a WebSocket handshake that is about to be forwarded.
 */
export function stripHopByHop(headers: IncomingHttpHeaders, injectedNames: ReadonlySet<string>, keepUpgrade = false): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '' || NEVER_CONNECTION_SCOPED.has(name) || injectedNames.has(name) || name.startsWith('x-kratos-')) continue;
      if (keepUpgrade && name === 'upgrade') continue;
      delete headers[name];
    }
  }
  for (const name of HOP_BY_HOP) {
    if (keepUpgrade && (name === 'connection' || name === 'upgrade')) continue;
    if (headers[name] !== undefined) delete headers[name];
  }
  // A kept Connection header is forwarded as is, so it may name nothing but `upgrade`: the
  // caller's other tokens (`Upgrade, X-Kratos-Authenticated-Identity-Id`) would let the next
  // hop drop the headers the gateway injects.
  if (keepUpgrade && headers.connection !== undefined) {
    if (headers.upgrade !== undefined) headers.connection = 'upgrade';
    else delete headers.connection;
  }
}

/** Hop-by-hop response headers never go back to the client from an upstream. */
export function isHopByHopResponseHeader(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * Removes what must never be sent over HTTP/2 (RFC 9113 §8.2.2: connection-specific fields,
 * with `te` allowed only as `trailers`) and `host`, which HTTP/2 carries as `:authority`. The
 * pipeline has already removed the hop-by-hop fields and the names `Connection` listed; this
 * keeps a request that did not pass through it from being refused by the HTTP/2 client.
 */
export function stripForHttp2(headers: Record<string, string | string[] | number | undefined>): void {
  for (const name of HOP_BY_HOP) {
    if (name === 'te' || headers[name] === undefined) continue;
    delete headers[name];
  }
  const te = headers.te;
  if (te !== undefined && String(te).trim().toLowerCase() !== 'trailers') delete headers.te;
  delete headers.host;
}
