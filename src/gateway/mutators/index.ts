import type { GatewayConfig } from '../../config/schema.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { identityHeaders } from './identity-headers.js';
import { credentialRemoval } from './credential-removal.js';
import type { HeaderMutator } from './types.js';

export type { ForwardContext, HeaderMutator } from './types.js';

export function headerMutators(config: GatewayConfig): HeaderMutator[] {
  const mutators: HeaderMutator[] = [forwardedHeaders, identityHeaders];
  if (config.proxy.strip_credentials) mutators.push(credentialRemoval(config.kratos.session_cookie));
  return mutators;
}
