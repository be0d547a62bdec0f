/**
 * Route policies (`routes[].policy`, language in src/config/policy.ts): evaluated on the
 * cached session summary, never with another Kratos call. The policies are compiled when a
 * snapshot is built, so a reload that changes them takes effect with the swap.
 */
import type { GatewayConfig } from '../../../config/schema.js';
import { parsePolicy, readsMethod, type Comparison, type Condition } from '../../../config/policy.js';
import { comparedMethod } from '../../../config/route-match.js';
import type { SessionSummary } from '../../session/session-summary.js';
import type { AuthorizationRefusal, Authorizer, AuthorizerFactory } from './types.js';

export type Verdict = undefined | 'refresh' | 'aal2' | 'login' | 'forbidden';

/**
 * How hard a failure is to fix. `all` answers with its hardest failure (a second factor does
 * not help when the role is wrong); `any` with its easiest (one step-up may satisfy a branch).
 */
const RANK = { refresh: 1, aal2: 2, login: 3, forbidden: 4 } as const;

/** Claim values longer than this never match a regular expression (bounds the work per request). */
const MAX_MATCH_INPUT = 1024;

export interface PolicyInput {
  readonly method: string;
  readonly session: SessionSummary | undefined;
  readonly nowMs: number;
}

/** One string against one comparison: a claim's element, or a verified address. */
function holds(c: Comparison, v: string): boolean {
  switch (c.kind) {
    case 'equals':
      return v === c.value;
    case 'one_of':
      return c.values.has(v);
    case 'ends_with':
      return v.endsWith(c.suffix);
    case 'matches':
      return v.length <= MAX_MATCH_INPUT && c.regex.test(v);
  }
}

/**
 * verified_address: some verified address (among the trait's values, when a path is given) that
 * satisfies the comparison, when one is given — the same address for both, never one address
 * verified and another compared.
 */
function someVerifiedAddress(c: Extract<Condition, { kind: 'verified_address' }>, s: SessionSummary): boolean {
  const verified = s.verifiedAddresses;
  if (verified === undefined || verified.size === 0) return false;
  const { address } = c;
  if (c.path === undefined) {
    if (address === undefined) return true;
    for (const a of verified) if (holds(address, a)) return true;
    return false;
  }
  return (
    s.claims?.get(c.path)?.some((v) => {
      const a = v.toLowerCase();
      return verified.has(a) && (address === undefined || holds(address, a));
    }) ?? false
  );
}

export function evaluateCondition(c: Condition, input: PolicyInput): Verdict {
  switch (c.kind) {
    case 'all': {
      let worst: Verdict;
      for (const child of c.of) {
        const v = evaluateCondition(child, input);
        if (v === 'forbidden') return v;
        if (v !== undefined && (worst === undefined || RANK[v] > RANK[worst])) worst = v;
      }
      return worst;
    }
    case 'any': {
      let best: Verdict;
      for (const child of c.of) {
        const v = evaluateCondition(child, input);
        if (v === undefined) return undefined;
        if (best === undefined || RANK[v] < RANK[best]) best = v;
      }
      return best;
    }
    case 'methods':
      return c.methods.has(comparedMethod(input.method)) ? undefined : 'forbidden';
    default:
      break;
  }
  const s = input.session;
  // An `optional` route without a session: logging in is what could satisfy the condition.
  if (s === undefined) return 'login';
  switch (c.kind) {
    // Per kind rather than through holds(): the extra dispatch cost about 5 % in bench/policy-eval.ts,
    // on the path most policies take.
    case 'equals':
      return s.claims?.get(c.path)?.includes(c.value) ? undefined : 'forbidden';
    case 'one_of':
      return s.claims?.get(c.path)?.some((v) => c.values.has(v)) ? undefined : 'forbidden';
    case 'ends_with':
      return s.claims?.get(c.path)?.some((v) => v.endsWith(c.suffix)) ? undefined : 'forbidden';
    case 'matches':
      return s.claims?.get(c.path)?.some((v) => v.length <= MAX_MATCH_INPUT && c.regex.test(v)) ? undefined : 'forbidden';
    case 'verified_address':
      return someVerifiedAddress(c, s) ? undefined : 'forbidden';
    case 'schema_id':
      return s.schemaId !== undefined && c.ids.has(s.schemaId) ? undefined : 'forbidden';
    case 'aal':
      return (s.aal ?? 1) >= c.level ? undefined : 'aal2';
    case 'authenticated_within': {
      const at = s.authenticatedAtMs;
      // A future authenticated_at (clock skew) counts as now; an absent one is never recent.
      return at !== undefined && input.nowMs - at <= c.ms ? undefined : 'refresh';
    }
  }
}

const FORBIDDEN: AuthorizationRefusal = { message: "The route's policy does not allow this request" };
const REFUSALS: Record<Exclude<Verdict, undefined>, AuthorizationRefusal> = {
  forbidden: FORBIDDEN,
  login: { message: 'This route requires a session', remedy: 'login' },
  aal2: { message: 'This route requires a second authentication factor (aal2)', remedy: 'aal2' },
  refresh: { message: 'This route requires a recent authentication', remedy: 'refresh' },
};

/** The registry entry: undefined (no call per request) when no route has a policy. */
export const routePolicy: AuthorizerFactory = (config: GatewayConfig): Authorizer | undefined => {
  const byRoute = new Map<string, Condition>();
  config.routes.forEach((r, i) => {
    if (r.policy === undefined) return;
    const problems: string[] = [];
    const c = parsePolicy(r.policy, `routes.${i}.policy`, problems);
    // parseConfig already refused these; a configuration built around it must not pass silently.
    if (c === undefined) throw new Error(`invalid route policy: ${problems.join('; ')}`);
    byRoute.set(r.name, c);
  });
  if (byRoute.size === 0) return undefined;
  return {
    kind: 'route_policy',
    authorize: ({ route, method, session }) => {
      const c = byRoute.get(route.name);
      if (c === undefined) return undefined;
      const v = evaluateCondition(c, { method, session, nowMs: Date.now() });
      return v === undefined ? undefined : REFUSALS[v];
    },
    readsMethod: (route) => {
      const c = byRoute.get(route.name);
      return c !== undefined && readsMethod(c);
    },
  };
};
