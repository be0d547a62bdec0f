import type { IncomingHttpHeaders } from 'node:http';
import { extractCredential, type Credential, type CredentialExtractor } from '../credentials/index.js';
import type { Route } from '../routing/route-table.js';
import { UNAUTHENTICATED, type Resolution, type SessionResolver } from '../session/session-resolver.js';
import type { SessionSummary } from '../session/session-summary.js';
import type { RequestTrace } from '../../tracing/types.js';
import { isBrowserNavigation } from './browser-navigation.js';

export type Decision =
  | { kind: 'allow'; session: SessionSummary | undefined; credentialKind?: string; setCookie?: string[] }
  | { kind: 'unauthenticated'; respondWith: 'redirect' | 'json' }
  /** A session that needs its second factor (Kratos `session_aal2_required`) on a required route. */
  | { kind: 'step_up'; respondWith: 'redirect' | 'json'; stepUp: Extract<Resolution, { status: 'step_up' }> }
  | { kind: 'unavailable'; resolution: Extract<Resolution, { status: 'unavailable' }> };

const ALLOW_ANONYMOUS: Decision = { kind: 'allow', session: undefined };

/**
 * The route's auth mode applied to the request's credential:
 * - anonymous: never asks Kratos;
 * - optional: identity when the credential is valid, anonymous when absent or invalid;
 * - required: identity, or a login redirect (browser navigation) / 401 JSON; a session that
 *   still needs its second factor, a step-up redirect / 403 JSON with Kratos's error id.
 * On optional routes a session Kratos calls "not valid for this AAL" is no identity: the request
 * goes on anonymous, as with an invalid credential (never with an aal1 identity the route's
 * upstream could mistake for a full one, and no redirect a public page did not ask for).
 * Kratos failures fail closed on every mode that asked it.
 */
export function decide(
  route: Route,
  method: string,
  headers: IncomingHttpHeaders,
  extractors: readonly CredentialExtractor[],
  resolver: SessionResolver,
  trace?: RequestTrace,
): Decision | Promise<Decision> {
  if (route.auth === 'anonymous') return ALLOW_ANONYMOUS;
  const credential = extractCredential(extractors, headers);
  if (credential === undefined) return decideOn(route, method, headers, undefined, UNAUTHENTICATED);
  // Synchronous on a cached session (or a cached refusal): no promise, no tick.
  const resolution = resolver.resolveNow(credential, trace);
  if (!(resolution instanceof Promise)) return decideOn(route, method, headers, credential, resolution);
  return resolution.then((r) => decideOn(route, method, headers, credential, r));
}

function decideOn(
  route: Route,
  method: string,
  headers: IncomingHttpHeaders,
  credential: Credential | undefined,
  resolution: Resolution,
): Decision {
  switch (resolution.status) {
    case 'authenticated':
      return resolution.setCookie
        ? { kind: 'allow', session: resolution.session, credentialKind: credential!.source.kind, setCookie: resolution.setCookie }
        : { kind: 'allow', session: resolution.session, credentialKind: credential!.source.kind };
    case 'unavailable':
      return { kind: 'unavailable', resolution };
    case 'step_up':
      if (route.auth === 'optional') return ALLOW_ANONYMOUS;
      return { kind: 'step_up', respondWith: unauthenticatedResponse(route, method, headers.accept), stepUp: resolution };
    case 'unauthenticated':
      if (route.auth === 'optional') return ALLOW_ANONYMOUS;
      return { kind: 'unauthenticated', respondWith: unauthenticatedResponse(route, method, headers.accept) };
  }
}

function unauthenticatedResponse(route: Route, method: string, accept: string | undefined): 'redirect' | 'json' {
  if (route.onUnauthenticated === 'auto') return isBrowserNavigation(method, accept) ? 'redirect' : 'json';
  return route.onUnauthenticated;
}
