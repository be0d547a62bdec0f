/**
 * Warnings for valid route policies that likely do not say what their author meant.
 *
 * Each condition is evaluated on its own, so in
 *   all: [{ path: identity.traits.emails, ends_with: '@corp.example' }, { verified_address: any }]
 * one address may end with the suffix and another be the verified one. The binding form,
 * `verified_address: { ends_with: … }`, asks for one verified address that does. Such a policy is
 * warned about, not refused: on a trait holding a single address (or none at all) the two are the
 * same, and the configuration cannot tell which traits hold lists of addresses. A comparison and a
 * verified_address are required together when their nearest common ancestor is an `all`, however
 * deep each sits below it (through `any` branches too), so each such pair is found once, there.
 *
 * And a verified_address `ends_with` that starts with neither `@` nor `.` admits other domains:
 * `corp.example` admits `a@evilcorp.example`.
 */
import type { GatewayConfig } from './schema.js';

const COMPARISONS = ['equals', 'one_of', 'matches', 'ends_with'] as const;

interface Leaf {
  readonly raw: Record<string, unknown>;
  readonly at: string;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function comparisonOf(o: Record<string, unknown>): string | undefined {
  return COMPARISONS.find((k) => k in o);
}

/** The conditions (not all/any) at or below a node: those a branch through it may require. */
function leaves(node: unknown, at: string, out: Leaf[] = []): Leaf[] {
  if (!isMapping(node)) return out;
  const list = Array.isArray(node.all) ? node.all : Array.isArray(node.any) ? node.any : undefined;
  if (list === undefined) out.push({ raw: node, at });
  else {
    const kind = Array.isArray(node.all) ? 'all' : 'any';
    list.forEach((child: unknown, i) => leaves(child, `${at}.${kind}.${i}`, out));
  }
  return out;
}

/** The trait a verified_address condition is about (`any` for all of them), and how to name it. */
function verifiedTarget(leaf: Leaf): { target: string; text: string; bound: boolean } | undefined {
  const v = leaf.raw.verified_address;
  if (typeof v === 'string') return { target: v, text: `verified_address: ${v}`, bound: false };
  if (!isMapping(v)) return undefined;
  const path = typeof v.path === 'string' ? v.path : undefined;
  return {
    target: path ?? 'any',
    text: `verified_address with ${comparisonOf(v) ?? 'a comparison'}${path === undefined ? '' : ` on ${path}`}`,
    bound: true,
  };
}

function separateConditions(cmp: Leaf, va: Leaf): string | undefined {
  const path = cmp.raw.path;
  const op = comparisonOf(cmp.raw);
  const v = verifiedTarget(va);
  if (typeof path !== 'string' || !path.startsWith('identity.traits.') || op === undefined || v === undefined) return undefined;
  if (v.target !== 'any' && v.target !== path) return undefined;
  const instead = v.bound
    ? `for one verified address that satisfies both, write one verified_address mapping (a matches can say both)`
    : `for a verified address that satisfies it, write { verified_address: { path: ${path}, ${op}: … } }`;
  return (
    `${cmp.at} (${op} on ${path}) and ${va.at} (${v.text}) are separate conditions: ` +
    `if ${path} holds several addresses, one may satisfy the ${op} and another be the verified one; ${instead} (docs/policies.md)`
  );
}

/** Pairs required together at this `all` (children i ≠ j), then the same below it. */
function visit(node: unknown, at: string, out: string[]): void {
  if (!isMapping(node)) return;
  const kind = Array.isArray(node.all) ? 'all' : Array.isArray(node.any) ? 'any' : undefined;
  if (kind === undefined) return;
  const children = node[kind] as unknown[];
  if (kind === 'all') {
    const under = children.map((child, i) => leaves(child, `${at}.all.${i}`));
    under.forEach((own, i) => {
      for (const cmp of own)
        under.forEach((other, j) => {
          if (i === j) return;
          for (const va of other) {
            const warning = separateConditions(cmp, va);
            if (warning !== undefined) out.push(warning);
          }
        });
    });
  }
  children.forEach((child, i) => visit(child, `${at}.${kind}.${i}`, out));
}

function suffixWarning(leaf: Leaf): string | undefined {
  const v = leaf.raw.verified_address;
  const suffix = isMapping(v) ? v.ends_with : undefined;
  if (typeof suffix !== 'string' || suffix.startsWith('@') || suffix.startsWith('.')) return undefined;
  const example = suffix.includes('@') ? `x${suffix}` : `a@x${suffix}`;
  const domain = suffix.slice(suffix.lastIndexOf('@') + 1);
  return (
    `${leaf.at}.verified_address.ends_with: ${JSON.stringify(suffix)} starts with neither "@" nor ".", so it also admits ` +
    `addresses that merely end with it, such as ${JSON.stringify(example)}; write "@${domain}" for that domain, ` +
    `".${domain}" for its subdomains, or equals for one address`
  );
}

/** One line per suspicious condition or pair, naming key paths; the policies are already validated. */
export function policyWarnings(routes: GatewayConfig['routes']): string[] {
  const out: string[] = [];
  routes.forEach((r, i) => {
    const at = `routes.${i}.policy`;
    for (const leaf of leaves(r.policy, at)) {
      const warning = suffixWarning(leaf);
      if (warning !== undefined) out.push(warning);
    }
    visit(r.policy, at, out);
  });
  return out;
}
