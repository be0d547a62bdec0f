import { parse as parseCookieHeader } from 'cookie';
import type { CredentialExtractor } from './types.js';
import { isPlausibleToken } from './types.js';

/**
 * The Kratos session cookie. Only this cookie is sent to Kratos, never the caller's other
 * cookies (they are none of Kratos's business and can be large).
 */
export function sessionCookie(cookieName: string): CredentialExtractor {
  return {
    kind: 'cookie',
    extract(headers) {
      const raw = headers.cookie;
      if (raw === undefined || !raw.includes(cookieName)) return undefined;
      // No percent-decoding: Kratos reads cookie values raw, so it must get the exact bytes.
      const value = parseCookieHeader(raw, { decode: (v) => v })[cookieName];
      return value !== undefined && isPlausibleToken(value) ? value : undefined;
    },
    whoamiHeaders: (value) => ({ cookie: `${cookieName}=${value}` }),
  };
}
