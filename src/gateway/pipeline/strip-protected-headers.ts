import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHeaderName } from '../../http/header-name.js';

/**
 * Whether a caller could use this header to impersonate an identity: all `X-Kratos-*` and every
 * configured identity header, in any case and with `_` for `-` (oauth2-proxy CVE-2025-64484,
 * Caddy GHSA-7r4p-vjf4-gxv4).
 */
export function isProtectedHeader(name: string, protectedNames: ReadonlySet<string>): boolean {
  const normalized = normalizeHeaderName(name);
  return normalized.startsWith('x-kratos-') || protectedNames.has(normalized);
}

/**
 * Removes every protected header (isProtectedHeader). Runs on every request, on every route,
 * before any decision, so no outcome can leak a spoofed value.
 */
export function stripIdentityHeaders(headers: IncomingHttpHeaders, protectedNames: ReadonlySet<string>): void {
  for (const name in headers) if (isProtectedHeader(name, protectedNames)) delete headers[name];
}
