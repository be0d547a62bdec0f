/**
 * Where a browser on one of an instance's hosts is sent to sign in: the login flow of that
 * instance's Kratos, through the mount on the very host it asked (the host matched the
 * instance's `hosts`, so it is one the operator listed, never an arbitrary Host header), with a
 * return_to of the original URL there. The top-level `login.redirect_url` and public_base_url
 * are the top-level kratos's: a tenant's browser sent there would sign in at the wrong Kratos.
 * The scheme is public_base_url's (the gateway is served over one scheme).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ConfigSnapshot } from '../config-snapshot.js';
import { loginLocation } from '../login-location.js';
import { stepUpLocation } from '../step-up.js';
import type { RequestTarget } from '../request-target.js';
import { ReturnToPolicy } from '../return-to.js';
import { normalizeHost } from '../routing/route-table.js';

/** `extra`: a step-up's `aal=aal2` or `refresh=true`. */
export function tenantLoginLocation(s: ConfigSnapshot, hostHeader: string | undefined, target: RequestTarget, extra?: string): string {
  const name = normalizeHost(hostHeader);
  const base = `${new URL(s.publicOrigin).protocol}//${name}`;
  const port = /:(\d{1,5})$/.exec(hostHeader ?? '')?.[1];
  // A port that is no port (past 65535) is left out: the host name is the instance's all the same.
  const origin = port !== undefined && URL.canParse(`${base}:${port}`) ? `${base}:${port}` : base;
  const login = `${origin}${s.config.kratos.mount_prefix}/self-service/login/browser`;
  const returnTo = new ReturnToPolicy(origin, []).validate(origin + target.path + target.search);
  const params = [
    ...(extra === undefined ? [] : [extra]),
    ...(returnTo === undefined ? [] : [`${s.returnToParam}=${encodeURIComponent(returnTo)}`]),
  ];
  return params.length === 0 ? login : `${login}?${params.join('&')}`;
}

/** The login location for a request on `host`: its instance's (above), or the top-level kratos's (login-location.ts). */
export function loginLocationFor(
  s: ConfigSnapshot,
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  host: string | undefined,
  target: RequestTarget,
): string {
  return s.tenants?.match(host) === undefined ? loginLocation(s, peer, headers, target) : tenantLoginLocation(s, host, target);
}

/**
 * A step-up's location: on an instance's host, its own login flow asking for the second factor
 * (Kratos's redirect_browser_to is followed only for the top-level kratos, step-up.ts).
 */
export function stepUpLocationFor(
  s: ConfigSnapshot,
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  host: string | undefined,
  target: RequestTarget,
  redirectBrowserTo: string | undefined,
): string {
  return s.tenants?.match(host) === undefined
    ? stepUpLocation(s, peer, headers, target, redirectBrowserTo)
    : tenantLoginLocation(s, host, target, 'aal=aal2');
}
