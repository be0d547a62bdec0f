/**
 * Where a browser whose session still needs its second factor (Kratos `403
 * session_aal2_required`) is sent: Kratos's own `redirect_browser_to`, once it is known to
 * lead to Kratos. That URL comes from an upstream answer and ends up in a Location header, so
 * it is an open-redirect risk unless checked: only the Kratos public URL and the gateway's
 * Kratos mount are followed, and the Kratos public URL is moved onto the mount (as the mount
 * rewrites Kratos's Location headers) so the browser stays on the gateway's origin.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ConfigSnapshot } from './config-snapshot.js';
import { originalReturnTo } from './login-location.js';
import type { RequestTarget } from './request-target.js';

/** Kratos's query parameter for where to go after the flow (it copies it into redirect_browser_to). */
const KRATOS_RETURN_TO = 'return_to';

/** `url` when it lies at or under `base` (same origin, path at or below base's), with the part below. */
function below(url: URL, base: URL): string | undefined {
  if (url.origin !== base.origin || url.username !== '' || url.password !== '') return undefined;
  const basePath = base.pathname.replace(/\/$/, '');
  if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) return undefined;
  return url.pathname.slice(basePath.length) + url.search + url.hash;
}

export function stepUpLocation(
  s: ConfigSnapshot,
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  target: RequestTarget,
  redirectBrowserTo: string | undefined,
): string {
  const returnTo = originalReturnTo(s, peer, headers, target);
  const followed = redirectBrowserTo === undefined ? undefined : onKratos(s, redirectBrowserTo);
  if (followed === undefined) {
    // Not Kratos's (or none): the normal login, asking for the second factor.
    const url = new URL(s.loginUrl);
    url.searchParams.set('aal', 'aal2');
    if (returnTo !== undefined) url.searchParams.set(s.returnToParam, returnTo);
    return url.href;
  }
  // Kratos copies return_to only from the whoami request's query, which the gateway never
  // sends: the original request's is added. One already there is kept only if the gateway's
  // own return_to policy accepts it.
  const existing = followed.searchParams.get(KRATOS_RETURN_TO);
  if (existing === null || s.returnTo.validate(existing) === undefined) {
    if (returnTo === undefined) followed.searchParams.delete(KRATOS_RETURN_TO);
    else followed.searchParams.set(KRATOS_RETURN_TO, returnTo);
  }
  return followed.href;
}

/** The redirect as the browser is to follow it, or undefined when it does not lead to Kratos. */
function onKratos(s: ConfigSnapshot, redirect: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(redirect);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const kratos = new URL(s.config.kratos.public_url);
  const mountPrefix = s.config.kratos.mount_prefix;
  const rest = below(url, kratos);
  if (mountPrefix === '') {
    // No mount: the Kratos public URL is the one browsers reach Kratos at; followed as it is.
    return rest === undefined ? undefined : url;
  }
  const mount = new URL(s.publicOrigin + mountPrefix);
  if (rest !== undefined) return new URL(mount.href.replace(/\/$/, '') + rest);
  return below(url, mount) === undefined ? undefined : url;
}
