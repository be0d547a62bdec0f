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
 * A refusal. Without `remedy`, 403 (JSON, or a small HTML page for a browser navigation).
 * With one, the session could pass after the user acts: `login` (there is no session: the
 * route's login redirect or 401), `aal2` (a second factor) or `refresh` (re-authenticate) —
 * browsers are sent to the login flow for it, API clients get 403 with a machine-readable id.
 */
export interface AuthorizationRefusal {
  readonly message: string;
  readonly remedy?: 'login' | 'aal2' | 'refresh';
}

/**
 * Runs after authentication allowed the request, before headers are mutated: undefined lets
 * the request pass, a refusal refuses it. Adding one is one new file implementing this, plus
 * one line in the registry (`index.ts`).
 */
export interface Authorizer {
  readonly kind: string;
  authorize(request: AuthorizationRequest): AuthorizationRefusal | undefined;
  /**
   * Whether this authorizer's answer on `route` can depend on the request method. Asked once
   * per route when a snapshot is built: the decision API refuses to judge such a route when
   * the proxy did not say which method the original request had (nginx's auth subrequest is
   * always a GET).
   */
  readsMethod(route: Route): boolean;
}

/** A registry entry: the authorizer for this configuration, or undefined when it does not apply. */
export type AuthorizerFactory = (config: GatewayConfig) => Authorizer | undefined;
