/**
 * How a route's `match` compares with a request: the language of path patterns (the route
 * table, src/gateway/routing/route-table.ts, compiles them; route-rules.ts compares them) and
 * of method lists (the route table and route policies).
 *
 * A path pattern is compared with the request's canonical path (src/gateway/request-target.ts).
 *
 * The canonical path is what the upstream receives, but the upstream's router does not compare
 * it byte for byte, and routers differ. So the path is read each way they compare — a
 * *reading* — and the route table refuses a request on which the readings select different
 * routes, since whichever route it chose, one kind of upstream would serve the request with the
 * other route's handler:
 *
 *  - `exact`: the trailing slash and letter case count (Go's ServeMux, nginx, Fastify, Spring,
 *    Django, Flask), escapes are decoded (Go, nginx, Spring, Django). `/files` and `/files/`
 *    are different paths (`location = /files` beside `location /files/`; Go's subtree pattern
 *    `/files/`), `*` may match an empty last segment (Fastify serves `/files/` with
 *    `/files/:id`, an empty id), and `/v1/things%3Apurge` is `/v1/things:purge`;
 *  - `loose`: trailing slashes do not count, on the path or the pattern (Rails; express with
 *    strict routing off, its default): `/users/1/profile/` is `/users/1/profile`;
 *  - `folded`: loose, and letter case does not count either;
 *  - `raw`: folded, and escapes are not decoded (express by default, which matches the path as
 *    it arrives and decodes only parameters): `/v1/things%3Apurge` is not `/v1/things:purge`.
 *
 * Decoded, paths and patterns are compared in the *match form*, where every escape of a
 * printable ASCII character is decoded, except `%25` (so a decoded `%` never starts a new
 * escape) and `%2F` (which the canonicalizer refuses anyway); any other byte is an upper-case
 * escape, on both sides (a pattern may be written with raw UTF-8). Raw, a pattern is written as
 * the canonicalizer writes a path.
 */
import { HEX, hexValue, RAW_ALLOWED, UNRESERVED } from '../http/uri-chars.js';
import { compileGlob } from './glob-match.js';

/** A byte kept as it is in the match form: printable ASCII except `%` (which only starts an escape). */
function plain(b: number): boolean {
  return b >= 0x20 && b <= 0x7e && b !== 0x25;
}

/**
 * Text with the escapes of the bytes `decode` accepts decoded, other escapes in upper-case
 * hex, and the raw bytes `keep` refuses escaped. `keep` never accepts `%`.
 */
function normalized(s: string, decode: (b: number) => boolean, keep: (b: number) => boolean): string {
  let simple = true;
  for (let i = 0; i < s.length && simple; i++) simple = keep(s.charCodeAt(i));
  if (simple) return s;
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25) {
      const hi = i + 2 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
      const lo = hi === -1 ? -1 : hexValue(bytes[i + 2]!);
      if (lo !== -1) {
        const decoded = hi * 16 + lo;
        out += decode(decoded) ? String.fromCharCode(decoded) : '%' + HEX[hi] + HEX[lo];
        i += 2;
        continue;
      }
    }
    out += keep(b) ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** The match form of a path or of a pattern's literal text (trailing slashes kept). */
export function matchForm(s: string): string {
  return normalized(s, (b) => plain(b) && b !== 0x2f, plain);
}

/**
 * A pattern's literal text as the canonicalizer (src/gateway/request-target.ts) writes a path,
 * which is what the raw reading compares: escapes of unreserved characters decoded, other
 * escapes kept, bytes a path may not carry raw escaped.
 */
function rawForm(s: string): string {
  return normalized(
    s,
    (b) => b < 128 && UNRESERVED[b] === 1,
    (b) => b < 128 && RAW_ALLOWED[b] === 1,
  );
}

/** Without trailing slashes; `/` stays `/`. */
function withoutTrailingSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 0x2f) end--;
  return end === p.length ? p : p.slice(0, end);
}

/** A canonical path in the match form, as the exact reading compares it. */
export function exactKey(canonicalPath: string): string {
  // A canonical path has only printable ASCII: without an escape it is its own match form.
  return canonicalPath.includes('%') ? matchForm(canonicalPath) : canonicalPath;
}

/** An exact key as the loose reading compares it (the folded reading folds this). */
export function looseKey(exact: string): string {
  return withoutTrailingSlashes(exact);
}

/** A canonical path as the raw reading compares it. */
export function rawKey(canonicalPath: string): string {
  return foldCase(withoutTrailingSlashes(canonicalPath));
}

/** ASCII letters only: escapes are upper-case hex on both sides, and no upstream folds them. */
export function foldCase(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

export function hasUpperCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

export type Reading = 'exact' | 'loose' | 'folded' | 'raw';

/** A pattern's literal text as the reading compares it. */
function textForm(s: string, reading: Reading): string {
  return reading === 'raw' ? foldCase(rawForm(s)) : reading === 'folded' ? foldCase(matchForm(s)) : matchForm(s);
}

/** Whether a pattern reads differently decoded and raw: then the raw reading differs on every path. */
export function differsRaw(match: RouteMatch): boolean {
  const p = match.path_glob ?? match.path_prefix!;
  return matchForm(p) !== rawForm(p);
}

/** Whether the glob ends in a `/` the loose reading drops: then it differs from the exact one on every path. */
export function endsWithSlash(glob: string): boolean {
  return glob.length > 1 && glob.endsWith('/');
}

/** The path part of a route's `match`. */
export interface RouteMatch {
  readonly path_prefix?: string;
  readonly path_glob?: string;
  readonly format_suffix?: boolean;
}

export interface PathPattern {
  /** Tests a key of the pattern's reading (exactKey, looseKey, a folded loose key, rawKey). */
  readonly test: (key: string) => boolean;
  /** Characters matched literally (the specificity rank). */
  readonly literalLength: number;
}

/**
 * A route's path pattern in one reading. A prefix is segment-aware: `/api` matches `/api`,
 * `/api/` and `/api/x`, not `/apix`; `/` matches everything. In a glob, `*` matches within one
 * segment, `/**` any number of whole segments (config/glob-match.ts); anchored at both ends.
 */
export function pathPattern(match: RouteMatch, reading: Reading): PathPattern {
  const base = basePattern(match, reading);
  if (match.format_suffix !== true) return base;
  return { test: (k) => base.test(k) || base.test(withoutFormat(k)), literalLength: base.literalLength };
}

/**
 * The path without a `.format` extension on its last segment, as a Rails route's `(.:format)`
 * takes it: a name, a `.`, then one or more characters other than `.` and `/`. Otherwise the
 * path itself.
 */
function withoutFormat(k: string): string {
  const dot = k.lastIndexOf('.');
  return dot > k.lastIndexOf('/') + 1 && dot < k.length - 1 ? k.slice(0, dot) : k;
}

function basePattern(match: RouteMatch, reading: Reading): PathPattern {
  const form = (s: string) => textForm(s, reading);
  if (match.path_glob !== undefined) {
    return compileGlob(reading === 'exact' ? match.path_glob : withoutTrailingSlashes(match.path_glob), form);
  }
  const prefix = form(match.path_prefix!);
  if (prefix === '/') return { test: () => true, literalLength: 0 };
  const withSlash = prefix + '/';
  return { test: (k) => k === prefix || k.startsWith(withSlash), literalLength: prefix.length };
}

/**
 * What a pattern matches in one reading, as one string (route-rules.ts): equal signatures
 * match the same paths there. `/p/**` matches exactly what the prefix `/p` matches.
 */
export function patternSignature(match: RouteMatch, reading: Reading): string {
  const f = (s: string) => textForm(s, reading);
  const format = match.format_suffix === true ? '.format' : '';
  if (match.path_glob === undefined) return `prefix:${f(match.path_prefix!)}${format}`;
  const glob = reading === 'exact' ? match.path_glob : withoutTrailingSlashes(match.path_glob);
  const asPrefix = /^((?:\/[^*/]+)*)\/\*\*$/.exec(glob);
  if (asPrefix) return `prefix:${f(asPrefix[1] || '/')}${format}`;
  return `glob:${f(glob)}${format}`;
}

/*
 * Methods. HEAD is GET without the body: express, Fastify, Spring, Go's ServeMux and nginx all
 * answer HEAD with the GET handler, and its status and headers tell as much as the body would
 * (that the resource exists, its length, its ETag). So every method comparison the gateway
 * makes — a route's `match.methods`, a policy's `methods` — compares HEAD as GET: a HEAD is
 * never refused where GET is allowed, and never allowed where GET is refused.
 */

/** The method a method list is compared with. */
export function comparedMethod(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

/**
 * The reason a method list is refused, or undefined: a list with HEAD but not GET would treat
 * HEAD and GET differently.
 */
export function methodListProblem(methods: readonly string[]): string | undefined {
  return methods.includes('HEAD') && !methods.includes('GET')
    ? 'lists HEAD without GET; HEAD is compared as GET (the GET handler answers it): list GET'
    : undefined;
}
