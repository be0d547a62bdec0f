/**
 * Warnings for valid route policies that likely do not say what their author meant. Each condition
 * is evaluated on its own, so in
 *   all: [{ path: identity.traits.emails, ends_with: '@corp.example' }, { verified_address: any }]
 * one address may end with the suffix and another be the verified one. The binding form,
 * `verified_address: { ends_with: … }`, asks for one verified address that does. Such a policy is
 * warned about, not refused: on a trait holding a single address (or none at all) the two are the
 * same, and the configuration cannot tell which traits hold lists of addresses.
 */
import type { GatewayConfig } from './schema.js';

const COMPARISONS = ['equals', 'one_of', 'matches', 'ends_with'] as const;

interface Member {
  readonly raw: Record<string, unknown>;
  readonly at: string;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The conditions an `all` requires together: nested `all`s are the same requirement. */
function allMembers(node: Record<string, unknown>, at: string, out: Member[]): Member[] {
  const list = node.all;
  if (!Array.isArray(list)) return out;
  list.forEach((child: unknown, i) => {
    if (!isMapping(child)) return;
    if ('all' in child) allMembers(child, `${at}.all.${i}`, out);
    else out.push({ raw: child, at: `${at}.all.${i}` });
  });
  return out;
}

/** The policy's `all` groups, each once: an `all` nested in an `all` belongs to the outer group. */
function groups(node: unknown, at: string, out: Member[][]): void {
  if (!isMapping(node)) return;
  if ('all' in node) {
    const members = allMembers(node, at, []);
    out.push(members);
    for (const m of members) groups(m.raw, m.at, out);
  } else if (Array.isArray(node.any)) node.any.forEach((child: unknown, i) => groups(child, `${at}.any.${i}`, out));
}

function warningsFor(members: readonly Member[]): string[] {
  const out: string[] = [];
  const verified = members.filter((m) => typeof m.raw.verified_address === 'string');
  for (const cmp of members) {
    const path = cmp.raw.path;
    if (typeof path !== 'string' || !path.startsWith('identity.traits.')) continue;
    const op = COMPARISONS.find((k) => k in cmp.raw);
    if (op === undefined) continue;
    for (const va of verified) {
      const target = va.raw.verified_address as string;
      if (target !== 'any' && target !== path) continue;
      out.push(
        `${cmp.at} (${op} on ${path}) and ${va.at} (verified_address: ${target}) are separate conditions: ` +
          `if ${path} holds several addresses, one may satisfy the ${op} and another be the verified one; ` +
          `for a verified address that satisfies it, write { verified_address: { path: ${path}, ${op}: … } } (docs/policies.md)`,
      );
    }
  }
  return out;
}

/** One line per suspicious pair, naming both key paths; the policies are already validated. */
export function policyWarnings(routes: GatewayConfig['routes']): string[] {
  const out: string[] = [];
  routes.forEach((r, i) => {
    const found: Member[][] = [];
    groups(r.policy, `routes.${i}.policy`, found);
    for (const members of found) out.push(...warningsFor(members));
  });
  return out;
}
