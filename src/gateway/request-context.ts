import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { GatewayCore } from './gateway-core.js';
import type { RequestTarget } from './request-target.js';

/**
 * The TCP peer. `req.socket` is typed non-null but is detached (null) once a response has
 * finished, which is when the control plane's access line is written.
 */
export function peerAddress(req: IncomingMessage): string | undefined {
  return (req.socket as IncomingMessage['socket'] | null)?.remoteAddress;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming X-Request-Id is kept when it is short and plain (it lands in logs); else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Where to send an unauthenticated browser: the login URL with a return_to of the canonical
 * original URL. The origin is the configured public base URL; a trusted proxy's
 * X-Forwarded-Proto/Host may replace it only when the result passes the return_to policy.
 */
export function loginLocation(g: GatewayCore, req: IncomingMessage, target: RequestTarget): string {
  let origin = g.publicOrigin;
  if (g.trustedProxies.trusts(req.socket.remoteAddress)) {
    const host = req.headers['x-forwarded-host'];
    const proto = req.headers['x-forwarded-proto'];
    if (typeof host === 'string' && (proto === 'http' || proto === 'https')) origin = `${proto}://${host.split(',')[0]!.trim()}`;
  }
  const returnTo = g.returnTo.validate(origin + target.path + target.search) ?? g.returnTo.validate(g.publicOrigin + target.path + target.search);
  if (returnTo === undefined) return g.loginUrl;
  const sep = g.loginUrl.includes('?') ? '&' : '?';
  return `${g.loginUrl}${sep}${g.config.login.return_to_param}=${encodeURIComponent(returnTo)}`;
}
