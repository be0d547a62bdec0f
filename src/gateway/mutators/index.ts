import type { GatewayConfig } from '../../config/schema.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { identityHeaders } from './identity-headers.js';
import { sessionCookieRemoval } from './session-cookie-removal.js';
import type { HeaderMutator } from './types.js';

export type { ForwardContext, HeaderMutator } from './types.js';

export function headerMutators(config: GatewayConfig): HeaderMutator[] {
  const mutators: HeaderMutator[] = [forwardedHeaders, identityHeaders];
  if (config.proxy.strip_session_cookie) mutators.push(sessionCookieRemoval(config.kratos.session_cookie));
  return mutators;
}
