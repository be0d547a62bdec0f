/**
 * The route policy language (`routes[].policy`): parsed and validated here, at load and on
 * every reload, so a bad policy is a configuration error naming its key path
 * (`routes.0.policy.all.1.matches: …`), never a run-time surprise. The zod schema accepts the
 * key as opaque data (a recursive zod schema would defeat the schema walk that types
 * environment overrides); this module is its validator. Evaluation lives in
 * src/gateway/pipeline/authz/route-policy.ts.
 *
 * A condition is exactly one of:
 *   { all: [condition, …] }                      every one holds (non-empty)
 *   { any: [condition, …] }                      at least one holds (non-empty)
 *   { path: <claim path>, equals: scalar }       the claim equals the value
 *   { path: <claim path>, one_of: [scalar, …] }  the claim is one of the values
 *   { path: <claim path>, matches: regex }       the claim matches (JavaScript syntax, `u` flag; anchor it yourself)
 *   { path: <claim path>, ends_with: string }    the claim ends with the string
 *   { verified_address: any | <trait path> }     some verified address / the trait's address is verified
 *   { schema_id: id | [id, …] }                  the identity schema is one of these
 *   { aal: aal1 | aal2 }                         the session's assurance level is at least this
 *   { authenticated_within: 15m }                the session authenticated at most this long ago (s, m, h)
 *   { methods: [GET, …] }                        the request method is one of these, GET covering HEAD (for per-method rules)
 * A claim path is `identity.traits.<dotted.path>` or `identity.metadata_public.<dotted.path>`.
 * When the claim is a list, a comparison holds when any element does.
 */
import { methodSet } from './methods.js';

export type Scalar = string | number | boolean;

export type Condition =
  | { readonly kind: 'all'; readonly of: readonly Condition[] }
  | { readonly kind: 'any'; readonly of: readonly Condition[] }
  | { readonly kind: 'equals'; readonly path: string; readonly value: string }
  | { readonly kind: 'one_of'; readonly path: string; readonly values: ReadonlySet<string> }
  | { readonly kind: 'matches'; readonly path: string; readonly regex: RegExp }
  | { readonly kind: 'ends_with'; readonly path: string; readonly suffix: string }
  | { readonly kind: 'verified_address'; readonly path: string | undefined }
  | { readonly kind: 'schema_id'; readonly ids: ReadonlySet<string> }
  | { readonly kind: 'aal'; readonly level: 1 | 2 }
  | { readonly kind: 'authenticated_within'; readonly ms: number }
  | { readonly kind: 'methods'; readonly methods: ReadonlySet<string> };

const CLAIM_PATH = /^identity\.(traits|metadata_public)(\.[A-Za-z0-9_-]+)+$/;
const TRAIT_PATH = /^identity\.traits(\.[A-Za-z0-9_-]+)+$/;
const DURATION = /^([1-9][0-9]*)(s|m|h)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;
const COMPARISONS = ['equals', 'one_of', 'matches', 'ends_with'] as const;
const KINDS = ['all', 'any', 'path', 'verified_address', 'schema_id', 'aal', 'authenticated_within', 'methods'] as const;
/** Deep enough for any real policy; bounds the recursion on a hostile or accidental structure. */
const MAX_DEPTH = 16;

export class PolicyError extends Error {}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * Parses one policy. Problems are pushed as `keyPath: reason` lines; the result is undefined
 * when there was any.
 */
export function parsePolicy(raw: unknown, keyPath: string, problems: string[]): Condition | undefined {
  const before = problems.length;
  const c = parseCondition(raw, keyPath, problems, 0);
  return problems.length === before ? c : undefined;
}

function parseCondition(raw: unknown, at: string, problems: string[], depth: number): Condition | undefined {
  const fail = (path: string, reason: string): undefined => {
    problems.push(`${path}: ${reason}`);
    return undefined;
  };
  if (depth > MAX_DEPTH) return fail(at, `conditions nest deeper than ${MAX_DEPTH} levels`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return fail(at, `must be a condition (a mapping with one of ${KINDS.join(', ')})`);
  const o = raw as Record<string, unknown>;
  const keys = Object.keys(o);
  const kinds = keys.filter((k) => (KINDS as readonly string[]).includes(k));
  if (kinds.length !== 1)
    return fail(at, kinds.length === 0 ? `must have one of ${KINDS.join(', ')}` : `has ${kinds.join(' and ')}; a condition is exactly one`);
  const kind = kinds[0]!;
  const allowed = kind === 'path' ? ['path', ...COMPARISONS] : [kind];
  for (const k of keys) if (!allowed.includes(k)) return fail(`${at}.${k}`, `unknown key in a ${kind} condition`);
  const v = o[kind];
  switch (kind) {
    case 'all':
    case 'any': {
      if (!Array.isArray(v) || v.length === 0) return fail(`${at}.${kind}`, 'must be a non-empty list of conditions');
      const of: Condition[] = [];
      v.forEach((child, i) => {
        const c = parseCondition(child, `${at}.${kind}.${i}`, problems, depth + 1);
        if (c !== undefined) of.push(c);
      });
      return of.length === v.length ? { kind, of } : undefined;
    }
    case 'path': {
      if (typeof v !== 'string' || !CLAIM_PATH.test(v))
        return fail(`${at}.path`, 'must be identity.traits.<dotted.path> or identity.metadata_public.<dotted.path>');
      const ops = COMPARISONS.filter((k) => k in o);
      if (ops.length !== 1) return fail(at, `a path condition needs exactly one of ${COMPARISONS.join(', ')}`);
      const op = ops[0]!;
      const arg = o[op];
      switch (op) {
        case 'equals':
          return isScalar(arg)
            ? { kind: 'equals', path: v, value: String(arg) }
            : fail(`${at}.equals`, 'must be a string, number or boolean');
        case 'one_of':
          return Array.isArray(arg) && arg.length > 0 && arg.every(isScalar)
            ? { kind: 'one_of', path: v, values: new Set(arg.map(String)) }
            : fail(`${at}.one_of`, 'must be a non-empty list of strings, numbers or booleans');
        case 'ends_with':
          return typeof arg === 'string' && arg !== ''
            ? { kind: 'ends_with', path: v, suffix: arg }
            : fail(`${at}.ends_with`, 'must be a non-empty string');
        case 'matches': {
          if (typeof arg !== 'string' || arg === '') return fail(`${at}.matches`, 'must be a non-empty regular expression');
          try {
            return { kind: 'matches', path: v, regex: new RegExp(arg, 'u') };
          } catch (err) {
            return fail(`${at}.matches`, `invalid regular expression (${(err as Error).message})`);
          }
        }
      }
      break;
    }
    case 'verified_address':
      if (v === 'any') return { kind: 'verified_address', path: undefined };
      return typeof v === 'string' && TRAIT_PATH.test(v)
        ? { kind: 'verified_address', path: v }
        : fail(`${at}.verified_address`, 'must be "any" or identity.traits.<dotted.path>');
    case 'schema_id': {
      const ids = typeof v === 'string' ? [v] : v;
      return Array.isArray(ids) && ids.length > 0 && ids.every((id) => typeof id === 'string' && id !== '')
        ? { kind: 'schema_id', ids: new Set(ids as string[]) }
        : fail(`${at}.schema_id`, 'must be a schema id or a non-empty list of them');
    }
    case 'aal':
      if (v === 'aal1' || v === 'aal2') return { kind: 'aal', level: v === 'aal2' ? 2 : 1 };
      return fail(`${at}.aal`, 'must be aal1 or aal2');
    case 'authenticated_within': {
      const m = typeof v === 'string' ? DURATION.exec(v) : null;
      if (m === null) return fail(`${at}.authenticated_within`, 'must be a duration such as 30s, 15m or 12h');
      return { kind: 'authenticated_within', ms: Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] };
    }
    case 'methods':
      return Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string' && /^[A-Z]+$/.test(m))
        ? { kind: 'methods', methods: methodSet(v as string[]) }
        : fail(`${at}.methods`, 'must be a non-empty list of upper-case HTTP methods');
  }
  return undefined;
}

/** Whether a `methods` condition appears anywhere in the tree: then the verdict can differ by method. */
export function readsMethod(c: Condition): boolean {
  if (c.kind === 'methods') return true;
  return (c.kind === 'all' || c.kind === 'any') && c.of.some(readsMethod);
}

/** Every claim path a condition reads: the session summary must keep these. */
export function claimPaths(c: Condition, out: Set<string> = new Set()): Set<string> {
  switch (c.kind) {
    case 'all':
    case 'any':
      for (const child of c.of) claimPaths(child, out);
      break;
    case 'equals':
    case 'one_of':
    case 'matches':
    case 'ends_with':
      out.add(c.path);
      break;
    case 'verified_address':
      if (c.path !== undefined) out.add(c.path);
      break;
    default:
      break;
  }
  return out;
}
