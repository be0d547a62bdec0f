/**
 * How a route's `match` compares with a request: the language of path patterns (the route
 * table, src/gateway/routing/route-table.ts, compiles them; route-rules.ts compares them) and
 * of method lists (the route table and route policies).
 *
 * A path pattern is compared with the request's canonical path (src/gateway/request-target.ts).
 *
 * The canonical path is what the upstream receives, but the upstream's router does not compare
 * it byte for byte: express (strict routing off, its default) serves `/users/1/profile/` as
 * `/users/1/profile`; Spring, Go's ServeMux and nginx decode every escape before they route, so
 * `/v1/things%3Apurge` is `/v1/things:purge` to them; express compares letter case-insensitively
 * by default, Fastify, Spring, Go and nginx do not. A route selects a request whenever any of
 * them could serve it with the route's handler, so both sides are compared in the *match form*:
 *
 *  - every escape of a printable ASCII character is decoded, except `%25` (so a decoded `%`
 *    never starts a new escape) and `%2F` (which the canonicalizer refuses anyway); any other
 *    byte is an upper-case escape, on both sides (a pattern may be written with raw UTF-8);
 *  - trailing slashes are insignificant: a path and the same path with trailing slashes match
 *    the same routes. A glob matches when it matches the path without them, or that path plus
 *    one `/` — so `/files/*`, whose `*` matches `/files/` with an empty last segment (Fastify's
 *    router can match `/files/:id` there with an empty id), matches `/files` too.
 *
 * Letter case is the one difference no single form resolves (an upstream either folds it or
 * not): the route table compares both ways and refuses a request on which they disagree.
 */

const HEX = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** A byte kept as it is in the match form: printable ASCII except `%` (which only starts an escape). */
function plain(b: number): boolean {
  return b >= 0x20 && b <= 0x7e && b !== 0x25;
}

/** The match form of a path or of a pattern's literal text (trailing slashes kept). */
export function matchForm(s: string): string {
  let simple = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 || !plain(c)) {
      simple = false;
      break;
    }
  }
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
        out += plain(decoded) && decoded !== 0x2f ? String.fromCharCode(decoded) : '%' + HEX[hi] + HEX[lo];
        i += 2;
        continue;
      }
    }
    out += plain(b) ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** Without trailing slashes; `/` stays `/`. */
function withoutTrailingSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 0x2f) end--;
  return end === p.length ? p : p.slice(0, end);
}

/** The form a request path is matched in: match form, no trailing slashes. */
export function pathKey(canonicalPath: string): string {
  // A canonical path has only printable ASCII: without an escape it is its own match form.
  return withoutTrailingSlashes(canonicalPath.includes('%') ? matchForm(canonicalPath) : canonicalPath);
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

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** How a pattern matched a path key: not, only with one `/` appended (see above), or as it is. */
export const Matched = { No: 0, WithSlash: 1, AsIs: 2 } as const;
export type Matched = (typeof Matched)[keyof typeof Matched];

export interface PathPattern {
  /** Tests a path key (see pathKey); for the folded comparison, a folded key. */
  readonly test: (key: string) => Matched;
  /** Characters matched literally (the specificity rank). */
  readonly literalLength: number;
  /** The pattern has an upper-case letter: the folded comparison can differ from the exact one. */
  readonly hasUpperCase: boolean;
}

/** A segment-aware prefix: `/api` matches `/api` and `/api/x`, not `/apix`; `/` matches everything. */
export function prefixPattern(prefix: string, fold: boolean): PathPattern {
  const exact = matchForm(prefix);
  const form = fold ? foldCase(exact) : exact;
  if (form === '/') return { test: () => Matched.AsIs, literalLength: 0, hasUpperCase: false };
  const withSlash = form + '/';
  return {
    test: (k) => (k === form || k.startsWith(withSlash) ? Matched.AsIs : Matched.No),
    literalLength: form.length,
    hasUpperCase: hasUpperCase(exact),
  };
}

/** `*` matches within one segment, `**` any number of whole segments. Anchored at both ends. */
export function globPattern(glob: string, fold: boolean): PathPattern {
  let re = '^';
  let literal = '';
  let literalLength = 0;
  const flush = () => {
    const form = fold ? foldCase(matchForm(literal)) : matchForm(literal);
    re += escapeRegex(form);
    literalLength += form.length;
    literal = '';
  };
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('/**', i)) {
      flush();
      re += '(?:/[^/]*)*';
      i += 2;
    } else if (glob[i] === '*') {
      flush();
      re += '[^/]*';
    } else {
      literal += glob[i];
    }
  }
  flush();
  const regex = new RegExp(re + '$');
  // A glob matches a path plus `/` and not the path only when a literal `/` takes that `/`,
  // followed by nothing but what matches nothing (`*`, `/**`): a cheap filter for the second test.
  let rest = glob;
  for (;;) {
    if (rest.endsWith('/**')) rest = rest.slice(0, -3);
    else if (rest.endsWith('*')) rest = rest.slice(0, -1);
    else break;
  }
  const slashForm = rest.endsWith('/');
  return {
    test: (k) => (regex.test(k) ? Matched.AsIs : slashForm && regex.test(k + '/') ? Matched.WithSlash : Matched.No),
    literalLength,
    hasUpperCase: hasUpperCase(matchForm(glob)),
  };
}

/**
 * What a pattern matches, as one string (route-rules.ts): equal signatures match the same
 * paths. `/p/**` matches exactly what the prefix `/p` matches; one trailing slash after a
 * literal segment changes nothing (`/a/` is `/a`). `fold` compares letter case-insensitively.
 */
export function patternSignature(match: { path_prefix?: string; path_glob?: string }, fold: boolean): string {
  const f = (s: string) => (fold ? foldCase(matchForm(s)) : matchForm(s));
  if (match.path_glob === undefined) return `prefix:${f(match.path_prefix!)}`;
  const glob = match.path_glob;
  const asPrefix = /^((?:\/[^*/]+)*)\/\*\*$/.exec(glob);
  if (asPrefix) return `prefix:${f(asPrefix[1] || '/')}`;
  const trimmed = /[^*/]\/$/.test(glob) ? glob.slice(0, -1) : glob;
  return `glob:${f(trimmed)}`;
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
