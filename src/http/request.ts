/** What every listener reads from a request the same way: the TCP peer and the request id. */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * The TCP peer. `req.socket` is typed non-null but is detached (null) once a response has
 * finished, which is when the control plane's access line is written.
 */
export function peerAddress(req: IncomingMessage): string | undefined {
  return (req.socket as IncomingMessage['socket'] | null)?.remoteAddress;
}

/** The request came over TLS to this process (the proxy listener's own TLS, src/http/tls-dispatch.ts): its scheme is https. */
export function arrivedEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What the observers (metrics, tracing, the access line) read of a request: an HTTP request, or
 * the original request an ext_authz CheckRequest describes.
 */
export type RequestHead = Pick<IncomingMessage, 'method' | 'headers'>;

/** An incoming X-Request-Id is kept when it is short and plain (it lands in logs); else a new one. */
export function requestIdOf(req: RequestHead): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** An HTTP/2 header list's fields without its pseudo-headers (`:method`, `:path` …), which are no header fields. */
export function withoutPseudoHeaders(h: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in h) if (name.charCodeAt(0) !== 58 /* : */) out[name] = h[name];
  return out;
}
