import type { IncomingHttpHeaders } from 'node:http';
import type { ConfigSnapshot } from './config-snapshot.js';
import type { RequestTarget } from './request-target.js';

/**
 * Where to send an unauthenticated browser: the login URL with a return_to of the canonical
 * original URL. The origin is the configured public base URL; a trusted proxy's
 * X-Forwarded-Proto/Host may replace it only when the result passes the return_to policy.
 */
export function loginLocation(s: ConfigSnapshot, peer: string | undefined, headers: IncomingHttpHeaders, target: RequestTarget): string {
  const returnTo = originalReturnTo(s, peer, headers, target);
  if (returnTo === undefined) return s.loginUrl;
  const sep = s.loginUrl.includes('?') ? '&' : '?';
  return `${s.loginUrl}${sep}${s.returnToParam}=${encodeURIComponent(returnTo)}`;
}

/** The canonical original URL as a return_to, or undefined when the return_to policy refuses it. */
export function originalReturnTo(
  s: ConfigSnapshot,
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  target: RequestTarget,
): string | undefined {
  let origin = s.publicOrigin;
  if (s.trustedProxies.trusts(peer)) {
    const host = headers['x-forwarded-host'];
    const proto = headers['x-forwarded-proto'];
    if (typeof host === 'string' && (proto === 'http' || proto === 'https')) origin = `${proto}://${host.split(',')[0]!.trim()}`;
  }
  return s.returnTo.validate(origin + target.path + target.search) ?? s.returnTo.validate(s.publicOrigin + target.path + target.search);
}
