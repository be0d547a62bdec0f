import type { IncomingHttpHeaders } from 'node:http';

/** The header every authenticated request carries upstream. */
export const IDENTITY_ID_HEADER = 'x-kratos-authenticated-identity-id';

/** `X_Kratos_Foo` and `x-kratos-foo` are the same header to many upstream frameworks. */
export function normalizeHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

/**
 * Removes every header a caller could use to impersonate an identity: all `X-Kratos-*`
 * and every configured identity header, in any case and with `_` for `-`
 * (oauth2-proxy CVE-2025-64484, Caddy GHSA-7r4p-vjf4-gxv4). Runs on every request, on
 * every route, before any decision, so no outcome can leak a spoofed value.
 */
export function stripIdentityHeaders(headers: IncomingHttpHeaders, protectedNames: ReadonlySet<string>): void {
  for (const name in headers) {
    const normalized = normalizeHeaderName(name);
    if (normalized.startsWith('x-kratos-') || protectedNames.has(normalized)) delete headers[name];
  }
}
