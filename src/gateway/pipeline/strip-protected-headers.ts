import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHeaderName } from '../../http/header-name.js';

/**
 * Removes every protected header (isProtectedHeader). Runs on every request, on every route,
 * before any decision, so no outcome can leak a spoofed value.
 */
export function stripIdentityHeaders(headers: IncomingHttpHeaders, protectedNames: ReadonlySet<string>): void {
  for (const name in headers) if (isProtectedHeader(normalizeHeaderName(name), protectedNames)) delete headers[name];
}

/**
 * Whether a caller could use this header to impersonate an identity: all `X-Kratos-*` and every
 * configured identity header, in any case and with `_` for `-` (oauth2-proxy CVE-2025-64484,
 * Caddy GHSA-7r4p-vjf4-gxv4). For a name already normalized (normalizeHeaderName): the proxy
 * path applies it in its one walk over the headers (caller-headers.ts).
 */
export function isProtectedHeader(normalized: string, protectedNames: ReadonlySet<string>): boolean {
  return normalized.startsWith('x-kratos-') || protectedNames.has(normalized);
}
