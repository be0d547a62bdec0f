/**
 * The route rules that span several keys, checked on the configuration itself so a bad route
 * table is a start-up (and `validate`) error naming its key path, never a run-time surprise.
 */
import { comparedMethod, methodListProblem, patternSignature } from './route-match.js';
import { parsePolicy } from './policy.js';
import type { RouteConfig } from './schema.js';

/**
 * What a route matches, as one string: two routes with the same signature match exactly the
 * same requests, so one of them could never be chosen (Oathkeeper answers that with a 500 at
 * run time: "Expected exactly one rule"). Paths compare as the route table compares them
 * (route-match.ts); with `fold`, ignoring letter case — two routes equal that way are refused
 * too: the route table refuses every request on which the exact and the case-folded comparison
 * disagree, so one of them could never be chosen either. HEAD counts as GET.
 */
function signature(c: RouteConfig, fold: boolean): string {
  const methods = c.match.methods ? [...comparedMethods(c.match.methods)].sort().join(',') : '*';
  return `${place(c, fold)}|${methods}`;
}

/** The host and path a route matches, as one string (the same string: the same requests, method aside). */
function place(c: RouteConfig, fold: boolean): string {
  return `${c.match.host?.toLowerCase() ?? '*'}|${patternSignature(c.match, fold)}`;
}

/** A method list as the methods the route table compares (HEAD as GET). */
function comparedMethods(methods: readonly string[]): ReadonlySet<string> {
  return new Set(methods.map(comparedMethod));
}

/** One `routes.N…: reason` line per broken rule. */
export function routeProblems(routes: readonly RouteConfig[]): string[] {
  const problems: string[] = [];
  const bySignature = new Map<string, number>();
  const names = new Set<string>();
  const byFoldedSignature = new Map<string, number>();
  routes.forEach((c, index) => {
    const sig = signature(c, false);
    const folded = signature(c, true);
    const other = bySignature.get(sig) ?? byFoldedSignature.get(folded);
    if (other !== undefined) {
      const same = bySignature.has(sig) ? 'exactly the same requests' : 'the same requests ignoring letter case';
      problems.push(
        `routes.${index} ("${c.name}") matches ${same} as routes.${other} ("${routes[other]!.name}"); one of them could never be chosen`,
      );
    } else {
      bySignature.set(sig, index);
      byFoldedSignature.set(folded, index);
    }
  });
  // Routes with method lists on the same host and path are equally specific: for a method both
  // lists cover, the first in configuration order always wins.
  const listed = new Map<string, Array<[index: number, methods: ReadonlySet<string>]>>();
  routes.forEach((c, index) => {
    if (c.match.methods === undefined) return;
    const methods = comparedMethods(c.match.methods);
    const same = listed.get(place(c, false)) ?? [];
    for (const [other, theirs] of same) {
      const shared = [...methods].filter((m) => theirs.has(m));
      if (shared.length > 0 && signature(c, false) !== signature(routes[other]!, false))
        problems.push(
          `routes.${index}.match.methods: ${shared.join(', ')} also matched by routes.${other} ("${routes[other]!.name}") on the same host and path ` +
            '(HEAD counts as GET), which always wins them',
        );
    }
    listed.set(place(c, false), [...same, [index, methods]]);
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
    if (c.policy !== undefined) {
      // An anonymous route never has a session to evaluate: the policy could only ever refuse.
      if (c.auth === 'anonymous') problems.push(`routes.${index}.policy: needs a session; the route's auth is anonymous`);
      else parsePolicy(c.policy, `routes.${index}.policy`, problems);
    }
  });
  return problems;
}
