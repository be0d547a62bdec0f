/**
 * Canonical request target. The path is canonicalized once, and the same string is used
 * both to match routes and to forward upstream, so the gateway and the upstream can never
 * disagree about which resource was asked for (Oathkeeper GHSA-p224-6x5r-fjpm, Envoy
 * CVE-2019-9901 / CVE-2021-29492, Istio CVE-2021-31920 are all that disagreement).
 *
 * Rules: reject encoded `/` (%2F), encoded `\` (%5C), raw `\`, NUL (raw or %00), `#`, and
 * malformed escapes; decode escapes of unreserved characters; upper-case the hex of every
 * other escape; percent-encode bytes that may not appear raw; resolve `.`/`..` segments
 * (including their `%2e` forms, which are decoded first); merge repeated slashes. A raw `;`
 * (path parameters) is rejected: Tomcat, Jetty and Spring serve `/admin;x/users` as
 * `/admin/users` and `/a/..;/b` as `/b`, while the route table would see other paths. An
 * encoded `%3B` is data to all of them and stays as it is.
 */
import { HEX, hexValue, RAW_ALLOWED, UNRESERVED } from '../http/uri-chars.js';

export interface RequestTarget {
  /** Canonical path: starts with `/`, no empty, `.` or `..` segments. */
  readonly path: string;
  /** Raw query string including the leading `?`, or `""`. Never used for routing. */
  readonly search: string;
}

export class TargetRejected extends Error {}

/** Parse and canonicalize an origin-form request target (`req.url`). Throws TargetRejected. */
export function parseRequestTarget(rawUrl: string | undefined): RequestTarget {
  if (!rawUrl || rawUrl.charCodeAt(0) !== 47 /* / */) {
    throw new TargetRejected('the request target must be an absolute path');
  }
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const search = q === -1 ? '' : rawUrl.slice(q);
  if (search.includes('#')) throw new TargetRejected('a fragment is not allowed in a request target');
  return { path: canonicalizePath(rawPath), search };
}

/** Fast check: already canonical when every char is a plain pchar and there are no dot or empty segments. */
function isAlreadyCanonical(p: string): boolean {
  let segStart = 1;
  for (let i = 1; i <= p.length; i++) {
    const c = i === p.length ? 47 : p.charCodeAt(i);
    if (c === 47) {
      const len = i - segStart;
      if (len === 0 && i !== p.length) return false; // empty segment (not the trailing slash)
      if (len === 1 && p.charCodeAt(segStart) === 46) return false;
      if (len === 2 && p.charCodeAt(segStart) === 46 && p.charCodeAt(segStart + 1) === 46) return false;
      segStart = i + 1;
    } else if (c >= 128 || c === 59 /* ; */ || RAW_ALLOWED[c] !== 1) {
      return false;
    }
  }
  return true;
}

export function canonicalizePath(rawPath: string): string {
  if (isAlreadyCanonical(rawPath)) return rawPath;

  // Pass 1: normalise escapes and raw bytes, segment by segment.
  const bytes = Buffer.from(rawPath, 'utf8');
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 47 /* / */) {
      segments.push(current);
      current = '';
      continue;
    }
    if (b === 92 /* \ */) throw new TargetRejected('a backslash is not allowed in the path');
    if (b === 0) throw new TargetRejected('NUL is not allowed in the path');
    if (b === 35 /* # */) throw new TargetRejected('a fragment is not allowed in a request target');
    if (b === 59 /* ; */) throw new TargetRejected('path parameters (";") are not allowed in the path');
    if (b === 37 /* % */) {
      const hi = i + 2 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
      const lo = hi === -1 ? -1 : hexValue(bytes[i + 2]!);
      if (lo === -1) throw new TargetRejected('malformed percent-encoding in the path');
      const decoded = hi * 16 + lo;
      if (decoded === 0x2f) throw new TargetRejected('an encoded slash (%2F) is not allowed in the path');
      if (decoded === 0x5c) throw new TargetRejected('an encoded backslash (%5C) is not allowed in the path');
      if (decoded === 0) throw new TargetRejected('an encoded NUL (%00) is not allowed in the path');
      current += decoded < 128 && UNRESERVED[decoded] === 1 ? String.fromCharCode(decoded) : '%' + HEX[hi] + HEX[lo];
      i += 2;
      continue;
    }
    if (b < 128 && RAW_ALLOWED[b] === 1) current += String.fromCharCode(b);
    else current += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  segments.push(current);

  // Pass 2: resolve dot segments and drop empty ones (merging slashes). segments[0] is the
  // empty string before the leading slash.
  const out: string[] = [];
  const last = segments.length - 1;
  let trailingSlash = false;
  for (let i = 1; i <= last; i++) {
    const s = segments[i]!;
    if (s === '') {
      if (i === last) trailingSlash = true;
      continue;
    }
    if (s === '.') {
      if (i === last) trailingSlash = true;
      continue;
    }
    if (s === '..') {
      out.pop();
      if (i === last) trailingSlash = true;
      continue;
    }
    out.push(s);
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}
