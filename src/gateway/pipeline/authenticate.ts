/**
 * Step 5 of the evaluation: the route's auth mode applied to the request's credential, and the
 * one place that decides whether a refusal is answered as to a browser or as to an API client.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { extractCredential, type Credential, type CredentialExtractor } from './credentials/index.js';
import type { Route } from '../routing/route-table.js';
import { UNAUTHENTICATED, type Resolution } from '../session/session-resolver.js';
import type { SessionSummary } from '../session/session-summary.js';
import type { RequestTrace } from '../../observability/tracing/types.js';

export type Decision =
  | { kind: 'allow'; session: SessionSummary | undefined; credentialKind?: string; setCookie?: string[] }
  | { kind: 'unauthenticated' }
  /** A session that needs its second factor (Kratos `session_aal2_required`) on a required route. */
  | { kind: 'step_up'; stepUp: Extract<Resolution, { status: 'step_up' }> }
  | { kind: 'unavailable'; resolution: Extract<Resolution, { status: 'unavailable' }> };

/** What authentication asks of the session layer: one lookup, synchronous on a cache hit. */
export interface SessionLookup {
  resolveNow(credential: Credential, trace?: RequestTrace): Resolution | Promise<Resolution>;
}

const ALLOW_ANONYMOUS: Decision = { kind: 'allow', session: undefined };

/**
 * - anonymous: never asks Kratos;
 * - optional: identity when the credential is valid, anonymous when absent or invalid;
 * - required: identity, or unauthenticated; a session that still needs its second factor, a
 *   step-up (answered with Kratos's error id, or a redirect: see answersBrowser).
 * On optional routes a session Kratos calls "not valid for this AAL" is no identity: the request
 * goes on anonymous, as with an invalid credential (never with an aal1 identity the route's
 * upstream could mistake for a full one, and no redirect a public page did not ask for).
 * Kratos failures fail closed on every mode that asked it.
 */
export function authenticate(
  route: Route,
  headers: IncomingHttpHeaders,
  extractors: readonly CredentialExtractor[],
  resolver: SessionLookup,
  trace?: RequestTrace,
): Decision | Promise<Decision> {
  if (route.auth === 'anonymous') return ALLOW_ANONYMOUS;
  const credential = extractCredential(extractors, headers);
  if (credential === undefined) return decideOn(route, undefined, UNAUTHENTICATED);
  // Synchronous on a cached session (or a cached refusal): no promise, no tick.
  const resolution = resolver.resolveNow(credential, trace);
  if (!(resolution instanceof Promise)) return decideOn(route, credential, resolution);
  return resolution.then((r) => decideOn(route, credential, r));
}

function decideOn(route: Route, credential: Credential | undefined, resolution: Resolution): Decision {
  switch (resolution.status) {
    case 'authenticated':
      return resolution.setCookie
        ? { kind: 'allow', session: resolution.session, credentialKind: credential!.source.kind, setCookie: resolution.setCookie }
        : { kind: 'allow', session: resolution.session, credentialKind: credential!.source.kind };
    case 'unavailable':
      return { kind: 'unavailable', resolution };
    case 'step_up':
      if (route.auth === 'optional') return ALLOW_ANONYMOUS;
      return { kind: 'step_up', stepUp: resolution };
    case 'unauthenticated':
      if (route.auth === 'optional') return ALLOW_ANONYMOUS;
      return { kind: 'unauthenticated' };
  }
}

/**
 * Whether a refusal (no session, a step-up, an authorizer's refusal) is answered as to a
 * browser — sent where it can fix the shortfall, the login flow — or as to an API client
 * (401/403 with a machine-readable id), as the route's on_unauthenticated says. Asked only
 * once a request is refused, so a request that goes through never parses its Accept header.
 * A WebSocket client cannot follow a redirect.
 */
export function answersBrowser(route: Route, transport: string, method: string, accept: string | undefined): boolean {
  // Neither a WebSocket client nor a gRPC client can follow a redirect to a login page.
  if (transport === 'websocket' || transport === 'grpc') return false;
  return route.onUnauthenticated === 'auto' ? isBrowserNavigation(method, accept) : route.onUnauthenticated === 'redirect';
}

/**
 * A browser navigation: GET/HEAD whose Accept prefers text/html over application/json.
 * Those get a login redirect; everything else (fetch, XHR, API clients) gets 401 JSON.
 */
export function isBrowserNavigation(method: string, accept: string | undefined): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || accept === undefined) return false;
  const html = quality(accept, 'text/html');
  return html > 0 && html >= quality(accept, 'application/json');
}

function quality(accept: string, type: string): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [mediaRaw, ...params] = part.split(';');
    const media = mediaRaw!.trim().toLowerCase();
    if (media !== type) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q') q = Number(v);
    }
    if (Number.isFinite(q) && q > best) best = q;
  }
  return best;
}
