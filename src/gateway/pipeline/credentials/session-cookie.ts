import { parse as parseCookieHeader } from 'cookie';
import type { CredentialExtractor } from './types.js';
import { isPlausibleToken } from './types.js';

const V06_SUFFIX = '_csrf_token';

/**
 * Whether a cookie name is one Kratos gives its CSRF cookie. By how Kratos builds the name,
 * not by a list of spellings:
 *  - v0.8+ and v1: `csrf_token_<sha256 hex of the public URL>`; plain `csrf_token` before that;
 *  - v0.6 (and the embedded server, src/identity/x/nosurf.ts): `<base64url of the public URL>_csrf_token`.
 * The v0.6 form is recognised only when its prefix really is base64url of an http(s) URL, so an
 * application's own `app_csrf_token` cookie still reaches it; `csrf_tokenx` is not Kratos's either.
 */
export function isKratosCsrfCookieName(name: string): boolean {
  if (name === 'csrf_token' || name.startsWith('csrf_token_')) return true;
  if (!name.endsWith(V06_SUFFIX)) return false;
  const encoded = name.slice(0, -V06_SUFFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return false;
  return /^https?:\/\/[^\s]/i.test(Buffer.from(encoded, 'base64url').toString('latin1'));
}

/**
 * The Kratos session cookie. Only this cookie is sent to Kratos, never the caller's other
 * cookies (they are none of Kratos's business and can be large).
 *
 * Removed upstream whether or not it authenticated the request, together with the Kratos CSRF
 * cookie, whose secret lets whoever holds it forge a self-service form submission for that
 * browser: every Kratos-owned cookie goes. By name with the whitespace around it trimmed, as
 * the cookie parser reads it: `ory_kratos_session =tok` authenticates, so it must not be
 * forwarded either.
 */
export function sessionCookie(cookieName: string): CredentialExtractor {
  const isKratosCookie = (c: string) => {
    const eq = c.indexOf('=');
    if (eq === -1) return false;
    const name = c.slice(0, eq).trim();
    return name === cookieName || isKratosCsrfCookieName(name);
  };
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
    reads: { headers: [], cookies: [cookieName] },
    removeUpstream(headers) {
      const cookie = headers.cookie;
      if (cookie === undefined || (!cookie.includes(cookieName) && !cookie.includes('csrf_token'))) return;
      const kept = cookie
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c !== '' && !isKratosCookie(c));
      if (kept.length === 0) delete headers.cookie;
      else headers.cookie = kept.join('; ');
    },
  };
}
