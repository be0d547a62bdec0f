import type { GatewayConfig } from './schema.js';

/**
 * `identity_assertion.tokenize_as` hands the signing to Kratos: everything that shapes a locally
 * signed token (keys, algorithm, lifetime, audience, claims) would be silently unused, so each
 * is refused with its key path instead. `raw` tells a key the file set from a schema default.
 */
export function assertionProblems(config: GatewayConfig, raw: unknown): string[] {
  const a = config.identity_assertion;
  if (a.tokenize_as === undefined) return [];
  if (!a.enabled) return ['identity_assertion.tokenize_as: needs identity_assertion.enabled: true'];
  const problems: string[] = [];
  const given = (raw as { identity_assertion?: Record<string, unknown> } | null | undefined)?.identity_assertion ?? {};
  const unused = 'not used with identity_assertion.tokenize_as (Kratos signs the token with its template; remove one of the two)';
  for (const key of ['key_file', 'algorithm', 'ttl_ms', 'audience'] as const) {
    if (given[key] !== undefined) problems.push(`identity_assertion.${key}: ${unused}`);
  }
  if (Object.keys(a.claims).length > 0) problems.push(`identity_assertion.claims: ${unused}`);
  config.routes.forEach((r, i) => {
    if (r.identity_assertion_audience !== undefined) problems.push(`routes.${i}.identity_assertion_audience: ${unused}`);
  });
  if (config.embedded_kratos.enabled) {
    problems.push('identity_assertion.tokenize_as: the embedded identity server (the Kratos v0.6 API) has no session token templates');
  }
  return problems;
}
