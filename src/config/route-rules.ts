/**
 * The route rules that span several keys, checked on the configuration itself so a bad route
 * table is a start-up (and `validate`) error naming its key path, never a run-time surprise.
 */
import { comparedMethod, methodListProblem, patternSignature } from './route-match.js';
import { parsePolicy } from './policy.js';
import type { RouteConfig } from './schema.js';

/**
 * What a route matches in one reading of the path (route-match.ts), as one string: two routes
 * with the same signature match the same requests there. Equal in the exact reading, they match
 * exactly the same requests (Oathkeeper answers that with a 500 at run time: "Expected exactly
 * one rule"); equal in the loose or the folded reading, the route table — which refuses every
 * request on which the readings select different routes — could choose only one of them
 * (`/x/y` beside `/x/y/`; `/api` beside `/API`). Either way one could never be chosen. HEAD
 * counts as GET.
 */
function signature(c: RouteConfig, reading: Compared): string {
  const methods = c.match.methods ? [...comparedMethods(c.match.methods)].sort().join(',') : '*';
  return `${place(c, reading)}|${methods}`;
}

/** The host and path a route matches in one reading, as one string (the same string: the same requests, method aside). */
function place(c: RouteConfig, reading: Compared): string {
  return `${c.match.host?.toLowerCase() ?? '*'}|${patternSignature(c.match, reading)}`;
}

/** A method list as the methods the route table compares (HEAD as GET). */
function comparedMethods(methods: readonly string[]): ReadonlySet<string> {
  return new Set(methods.map(comparedMethod));
}

/** Two patterns equal raw are equal folded (decoding more only merges more), so raw is not compared. */
const READINGS = ['exact', 'loose', 'folded'] as const;
type Compared = (typeof READINGS)[number];

const SAME: Record<Compared, string> = {
  exact: 'exactly the same requests',
  loose: 'the same requests ignoring a trailing slash',
  folded: 'the same requests ignoring letter case',
};

/** One `routes.N…: reason` line per broken rule. */
export function routeProblems(routes: readonly RouteConfig[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const seen: Record<Compared, Map<string, number>> = { exact: new Map(), loose: new Map(), folded: new Map() };
  routes.forEach((c, index) => {
    const sigs = { exact: signature(c, 'exact'), loose: signature(c, 'loose'), folded: signature(c, 'folded') };
    const same = READINGS.find((r) => seen[r].has(sigs[r]));
    if (same !== undefined) {
      const other = seen[same].get(sigs[same])!;
      problems.push(
        `routes.${index} ("${c.name}") matches ${SAME[same]} as routes.${other} ("${routes[other]!.name}"); one of them could never be chosen`,
      );
    } else {
      for (const r of READINGS) seen[r].set(sigs[r], index);
    }
  });
  // Routes with method lists on the same host and path are equally specific: for a method both
  // lists cover, the first in configuration order always wins.
  const listed = new Map<string, Array<[index: number, methods: ReadonlySet<string>]>>();
  routes.forEach((c, index) => {
    if (c.match.methods === undefined) return;
    const methods = comparedMethods(c.match.methods);
    const same = listed.get(place(c, 'exact')) ?? [];
    for (const [other, theirs] of same) {
      const shared = [...methods].filter((m) => theirs.has(m));
      if (shared.length > 0 && signature(c, 'exact') !== signature(routes[other]!, 'exact'))
        problems.push(
          `routes.${index}.match.methods: ${shared.join(', ')} also matched by routes.${other} ("${routes[other]!.name}") on the same host and path ` +
            '(HEAD counts as GET), which always wins them',
        );
    }
    listed.set(place(c, 'exact'), [...same, [index, methods]]);
  });
  routes.forEach((c, index) => {
    if (names.has(c.name))
      problems.push(`routes.${index}.name: "${c.name}" is used by another route; names must be unique (they label metrics)`);
    names.add(c.name);
    const methodProblem = c.match.methods && methodListProblem(c.match.methods);
    if (methodProblem) problems.push(`routes.${index}.match.methods: ${methodProblem}`);
    if (c.strip_prefix !== undefined) {
      const base = c.match.path_prefix ?? c.match.path_glob!;
      if (!(base === c.strip_prefix || base.startsWith(c.strip_prefix + '/'))) {
        problems.push(`routes.${index}.strip_prefix: "${c.strip_prefix}" is not a prefix of the route's match path "${base}"`);
      }
    }
    const upstream = new URL(c.upstream);
    if (upstream.search !== '' || upstream.hash !== '') problems.push(`routes.${index}.upstream: must not contain a query or fragment`);
    if (upstream.username !== '' || upstream.password !== '') problems.push(`routes.${index}.upstream: must not contain credentials`);
    // h2c is HTTP/2 in the clear; h2 is negotiated by TLS ALPN: the scheme decides which one can work.
    if (c.upstream_protocol === 'h2' && upstream.protocol !== 'https:')
      problems.push(`routes.${index}.upstream_protocol: h2 needs an https upstream (h2c is HTTP/2 without TLS)`);
    if (c.upstream_protocol === 'h2c' && upstream.protocol !== 'http:')
      problems.push(`routes.${index}.upstream_protocol: h2c needs an http upstream (h2 is HTTP/2 over TLS)`);
    if (c.policy !== undefined) {
      // An anonymous route never has a session to evaluate: the policy could only ever refuse.
      if (c.auth === 'anonymous') problems.push(`routes.${index}.policy: needs a session; the route's auth is anonymous`);
      else parsePolicy(c.policy, `routes.${index}.policy`, problems);
    }
  });
  return problems;
}
