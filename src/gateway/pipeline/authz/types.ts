import type { GatewayConfig } from '../../../config/schema.js';
import type { Route } from '../../routing/route-table.js';
import type { SessionSummary } from '../../session/session-summary.js';

/** What an authorizer is asked about: the request the gateway matched, and who it is. */
export interface AuthorizationRequest {
  readonly route: Route;
  readonly method: string;
  /** The canonical path. */
  readonly path: string;
  readonly session: SessionSummary | undefined;
}

/**
 * Runs after authentication allowed the request, before headers are mutated: undefined lets
 * the request pass, a message refuses it with 403. Adding one is one new file implementing
 * this, plus one line in the registry (`index.ts`).
 */
export interface Authorizer {
  readonly kind: string;
  authorize(request: AuthorizationRequest): { readonly message: string } | undefined;
}

/** A registry entry: the authorizer for this configuration, or undefined when it does not apply. */
export type AuthorizerFactory = (config: GatewayConfig) => Authorizer | undefined;
