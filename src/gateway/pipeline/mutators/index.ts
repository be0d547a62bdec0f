import type { GatewayConfig } from '../../../config/schema.js';
import { credentialExtractors } from '../credentials/index.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { identityHeadersFor } from './identity-headers.js';
import { identityAssertionFor } from './identity-assertion.js';
import { credentialRemovalFor } from './credential-removal.js';
import type { HeaderMutator, MutatorFactory, MutatorInputs } from './types.js';

export type { ForwardContext, HeaderMutator, MutatorFactory, MutatorInputs, RemovalByName } from './types.js';

/** The registry: one line per mutator, run in this order. Read when a configuration snapshot is built. */
export const mutatorRegistry: MutatorFactory[] = [
  () => forwardedHeaders,
  ({ config }) => identityHeadersFor(config),
  ({ config }) => identityAssertionFor(config),
  ({ config, credentialSources, retiredCredentialSources = [] }) =>
    config.proxy.strip_credentials ? credentialRemovalFor([...credentialSources, ...retiredCredentialSources]) : undefined,
];

export function buildMutators(inputs: MutatorInputs): HeaderMutator[] {
  const mutators: HeaderMutator[] = [];
  for (const build of mutatorRegistry) {
    const m = build(inputs);
    if (m !== undefined) mutators.push(m);
  }
  return mutators;
}

export function headerMutators(config: GatewayConfig): HeaderMutator[] {
  return buildMutators({ config, credentialSources: credentialExtractors(config.kratos.session_cookie) });
}
