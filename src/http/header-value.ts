/**
 * Makes an identity value safe to put in a header: no CR/LF or other controls (header
 * injection). Printable ASCII without `%` is sent as is; anything else is percent-encoded
 * UTF-8, so an upstream decodes a value exactly when it contains `%`.
 */
export function toHeaderValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number' || typeof value === 'boolean') s = String(value);
  else s = JSON.stringify(value);
  if (s.length > 4096) s = s.slice(0, 4096);
  if (/^[\x20-\x24\x26-\x7e]*$/.test(s)) return s;
  // Controls are dropped; `%` and non-ASCII are UTF-8 percent-encoded, so a value containing
  // `%` is always an encoded one: `é` and a literal `%C3%A9` can never arrive as the same text.
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) continue;
    if (code === 0x25) {
      out += '%25';
      continue;
    }
    // A lone surrogate (from JSON "\ud800", or a pair cut by the truncation) makes
    // encodeURIComponent throw; it becomes U+FFFD.
    out += code < 0x80 ? ch : code >= 0xd800 && code <= 0xdfff ? '%EF%BF%BD' : encodeURIComponent(ch);
  }
  return out;
}
