import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies still see. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
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
  stripHopByHopAmong(headers, HOP_BY_HOP, injectedNames, keepUpgrade);
}

/**
 * stripHopByHop, when the caller already knows which names `headers` holds (the walk over the
 * caller's headers noted them): the fixed fields are looked for among `names` only. `names` may
 * hold other names too; only hop-by-hop ones are removed from it.
 */
export function stripHopByHopAmong(
  headers: IncomingHttpHeaders,
  names: Iterable<string>,
  injectedNames: ReadonlySet<string>,
  keepUpgrade: boolean,
): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '' || NEVER_CONNECTION_SCOPED.has(name) || injectedNames.has(name) || name.startsWith('x-kratos-')) continue;
      if (keepUpgrade && name === 'upgrade') continue;
      delete headers[name];
    }
  }
  for (const name of names) {
    if (!HOP_BY_HOP.has(name)) continue;
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

/** A hop-by-hop field, by its lower-case name: connection-specific, never forwarded in either direction. */
export function isHopByHopHeader(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/** Hop-by-hop response headers never go back to the client from an upstream. */
export const isHopByHopResponseHeader = isHopByHopHeader;

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
