/**
 * Where a browser goes after a flow (Kratos's x/http_secure_redirect.go): an allowed
 * `return_to` from the flow's request URL, else the first configured fallback. "Allowed" means
 * same scheme and host and a path below an entry of selfservice.whitelisted_return_urls, or
 * anything under <public>/self-service.
 */
import type { IdentityContext } from '../driver/context.js';
import { badRequest } from './http-error.js';

function allowedBy(candidate: URL, allowed: string): boolean {
  let a: URL;
  try {
    a = new URL(allowed);
  } catch {
    return false;
  }
  return candidate.protocol === a.protocol && candidate.host === a.host && candidate.pathname.startsWith(a.pathname);
}

export function returnToOf(requestUrl: string): string | undefined {
  try {
    return new URL(requestUrl).searchParams.get('return_to') ?? undefined;
  } catch {
    return undefined;
  }
}

export function isAllowedReturnTo(ctx: IdentityContext, returnTo: string): boolean {
  let u: URL;
  try {
    u = new URL(returnTo);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  return ctx.cfg.whitelistedReturnUrls.some((w) => allowedBy(u, w)) || allowedBy(u, `${ctx.publicBase}/self-service`);
}

/** Throws a 400 (forwarded to the error UI by callers) when `return_to` is present but not allowed. */
export function secureRedirectTarget(ctx: IdentityContext, requestUrl: string | undefined, fallbacks: Array<string | undefined>): string {
  const returnTo = requestUrl ? returnToOf(requestUrl) : undefined;
  if (returnTo) {
    if (!isAllowedReturnTo(ctx, returnTo)) throw badRequest(`Requested return_to URL "${returnTo}" is not whitelisted.`);
    return returnTo;
  }
  return fallbacks.find((f): f is string => typeof f === 'string') ?? ctx.cfg.defaultBrowserReturnUrl;
}
