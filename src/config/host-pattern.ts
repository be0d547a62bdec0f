/**
 * A configured host: exact, or `*.suffix` (one or more labels before the suffix). Routes'
 * `match.host` and kratos_instances' `hosts` are read and matched the same way.
 */

export type HostPattern = { readonly kind: 'exact'; readonly name: string } | { readonly kind: 'suffix'; readonly suffix: string };

/** A configured host (validated by the schema's regex) as the table compares it. */
export function parseHostPattern(entry: string): HostPattern {
  const h = entry.toLowerCase();
  return h.startsWith('*.') ? { kind: 'suffix', suffix: h.slice(1) } : { kind: 'exact', name: h };
}

/** Whether a request host (lower-case, no port) matches the pattern. */
export function hostMatches(p: HostPattern, host: string): boolean {
  return p.kind === 'exact' ? host === p.name : host.length > p.suffix.length && host.endsWith(p.suffix);
}
