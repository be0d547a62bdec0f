/**
 * Character classes of RFC 3986 paths, shared by the canonicalizer
 * (src/gateway/request-target.ts) and route matching (src/config/route-match.ts), which must
 * agree on them exactly.
 */

export const HEX = '0123456789ABCDEF';

function table(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** pchar per RFC 3986 minus "%" (escapes are handled separately), and "/". */
export const RAW_ALLOWED = table(ALPHANUMERIC + "-._~!$&'()*+,;=:@/");
export const UNRESERVED = table(ALPHANUMERIC + '-._~');

/** The value of a hex digit's character code, or -1. */
export function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}
