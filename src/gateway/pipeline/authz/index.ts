import type { GatewayConfig } from '../../../config/schema.js';
import { allowAll } from './allow-all.js';
import { routePolicy } from './route-policy.js';
import type { Authorizer, AuthorizerFactory } from './types.js';

export type { Authorizer, AuthorizerFactory, AuthorizationRefusal, AuthorizationRequest } from './types.js';

/** The registry: one line per authorizer; the first refusal wins. Read when a configuration snapshot is built. */
export const authorizerRegistry: AuthorizerFactory[] = [() => allowAll, routePolicy];

export function buildAuthorizers(config: GatewayConfig): Authorizer[] {
  const out: Authorizer[] = [];
  for (const build of authorizerRegistry) {
    const a = build(config);
    // allow-all refuses nothing: skipping it keeps the hot path free of a call per request.
    if (a !== undefined && a !== allowAll) out.push(a);
  }
  return out;
}
