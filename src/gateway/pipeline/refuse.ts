/**
 * Refusals as descriptors: what to answer (status, message, headers), not how. The writers
 * in src/gateway/transport turn one into bytes (a JSON error on an HTTP response or a raw
 * socket, a 302, the decision API's 401 with a Location).
 */
import type { Resolution } from '../session/session-resolver.js';

export type RefuseKind =
  /** Transfer-Encoding outside HTTP/1.1: the connection is closed. */
  | 'framing'
  /** The target cannot be made canonical, or the original request is ambiguous (decision API). */
  | 'bad_request'
  | 'not_websocket'
  | 'draining'
  | 'no_route'
  /** An unauthenticated browser navigation: `location` is the login URL. */
  | 'login'
  | 'unauthenticated'
  | 'forbidden'
  /**
   * A session that needs its second factor (Kratos said so) or falls short of the route policy's
   * AAL or recency: a 302 to the login flow (`location`) or a 403 with the error id.
   */
  | 'step_up'
  | 'unavailable';

export interface Refuse {
  readonly kind: 'refuse';
  readonly reason: RefuseKind;
  readonly status: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The login URL, for reason 'login' (and 'step_up' for a browser navigation): the writers answer 302 with it. */
  readonly location?: string;
  /** Kratos's error id and reason, written into the JSON error (reason 'step_up'). */
  readonly error?: { readonly id: string; readonly reason: string };
  /** For 'forbidden': a browser navigation, answered with a small HTML page instead of JSON. */
  readonly html?: boolean;
  /** The route label for metrics and the access line ('none' when no route matched). */
  readonly route: string;
}

export const WWW_AUTHENTICATE = 'Bearer realm="kratos-gateway", Session realm="kratos-gateway"';
export const UNAUTHORIZED_MESSAGE = 'The request could not be authorized';
const UNAUTHORIZED_HEADERS = { 'www-authenticate': WWW_AUTHENTICATE };

export function refuse(reason: RefuseKind, status: number, message: string, route = 'none', headers?: Record<string, string>): Refuse {
  return headers === undefined
    ? { kind: 'refuse', reason, status, message, route }
    : { kind: 'refuse', reason, status, message, route, headers };
}

/** API clients get 401 JSON with a challenge; they must not be sent to an HTML login page. */
export function unauthenticated(route: string): Refuse {
  return refuse('unauthenticated', 401, UNAUTHORIZED_MESSAGE, route, UNAUTHORIZED_HEADERS);
}

/** Browsers navigating to a protected page are sent to log in, and brought back afterwards. */
export function login(route: string, location: string): Refuse {
  return { kind: 'refuse', reason: 'login', status: 302, message: UNAUTHORIZED_MESSAGE, route, location };
}

/**
 * An API client whose session still needs its second factor: 403 with Kratos's own error id,
 * so a client that handles Kratos's `session_aal2_required` handles the gateway's alike.
 */
export function stepUpRequired(route: string, reason: string): Refuse {
  return {
    kind: 'refuse',
    reason: 'step_up',
    status: 403,
    message: 'The session requires a second factor',
    route,
    error: { id: 'session_aal2_required', reason },
  };
}

/**
 * Kratos could not answer: fail closed. Never 401 (the credential may be fine) and never a
 * pass-through. Rate limiting is passed on as 429 so clients back off (Oathkeeper #1167).
 */
export function unavailable(route: string, r: Extract<Resolution, { status: 'unavailable' }>): Refuse {
  if (r.reason === 'rate_limited')
    return refuse('unavailable', 429, 'The identity service is rate limiting; retry later', route, { 'retry-after': r.retryAfter ?? '1' });
  if (r.reason === 'timeout')
    return refuse('unavailable', 503, 'The identity service did not answer in time', route, { 'retry-after': '1' });
  return refuse('unavailable', 503, 'The identity service is unavailable', route, { 'retry-after': '1' });
}

export const STEP_UP_IDS = { aal2: 'session_aal2_required', refresh: 'session_refresh_required' } as const;

/** The route's policy refuses this session: 403 (an HTML page for a browser navigation). */
export function forbidden(route: string, message: string, html: boolean): Refuse {
  return html
    ? { kind: 'refuse', reason: 'forbidden', status: 403, message, route, html }
    : { kind: 'refuse', reason: 'forbidden', status: 403, message, route };
}

/**
 * The session could pass after a second factor or a fresh login: a browser is sent to the
 * login flow (`location` already carries `aal=aal2` or `refresh=true` and the return_to), an
 * API client gets 403 whose `error.id` says what to do.
 */
export function stepUp(route: string, need: keyof typeof STEP_UP_IDS, message: string, location: string | undefined): Refuse {
  if (location !== undefined) return { kind: 'refuse', reason: 'step_up', status: 302, message, route, location };
  return { kind: 'refuse', reason: 'step_up', status: 403, message, route, error: { id: STEP_UP_IDS[need], reason: message } };
}
