/**
 * Server-side reads from the Kratos public API on behalf of a browser: the flow and error
 * lookups the pages are rendered from. The browser's Cookie header is passed along because
 * settings flows belong to a session; nothing the browser sent is otherwise forwarded.
 */
import { request } from 'undici';
import { parseErrorContainer, parseFlow, type FlowKind, type SelfServiceError, type SelfServiceFlow } from './flow.js';

const TIMEOUT_MS = 5_000;

export type FlowLookup =
  | { kind: 'flow'; flow: SelfServiceFlow }
  /**
   * Unknown, expired, foreign or session-less flow: the browser should start a new one.
   * `returnTo`: the expired flow's `return_to`, which v1 repeats in its 410's details.
   */
  | { kind: 'restart'; status: number; returnTo?: string }
  | { kind: 'unavailable'; detail: string };

async function getJson(url: string, cookie: string | undefined): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (cookie) headers.cookie = cookie;
  const res = await request(url, { method: 'GET', headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body };
}

export async function fetchFlow(kratosPublicUrl: string, kind: FlowKind, id: string, cookie: string | undefined): Promise<FlowLookup> {
  const url = `${kratosPublicUrl}/self-service/${kind}/flows?${new URLSearchParams({ id })}`;
  let res: { status: number; body: unknown };
  try {
    res = await getJson(url, cookie);
  } catch (err) {
    return { kind: 'unavailable', detail: err instanceof Error ? err.message : String(err) };
  }
  if (res.status === 200) {
    const flow = parseFlow(res.body);
    // v0.6 answers an unknown verification flow with 200 and `null`.
    return flow ? { kind: 'flow', flow } : { kind: 'restart', status: res.status };
  }
  // 400 malformed id, 401 no session (settings), 403 foreign/unknown settings flow or (v1) CSRF
  // cookie mismatch, 404 unknown, 410 expired.
  if (res.status >= 400 && res.status < 500) {
    const returnTo = res.status === 410 ? expiredReturnTo(res.body) : undefined;
    return returnTo ? { kind: 'restart', status: res.status, returnTo } : { kind: 'restart', status: res.status };
  }
  return { kind: 'unavailable', detail: `status ${res.status}` };
}

/**
 * v1 answers an expired browser flow with 410 `self_service_flow_expired` and the flow's
 * `return_to` in `error.details`; without it the new flow would forget where the user was going.
 */
function expiredReturnTo(body: unknown): string | undefined {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  const details = typeof error === 'object' && error !== null ? (error as { details?: unknown }).details : undefined;
  const returnTo = typeof details === 'object' && details !== null ? (details as { return_to?: unknown }).return_to : undefined;
  return typeof returnTo === 'string' && returnTo !== '' ? returnTo : undefined;
}

export type ErrorLookup = { kind: 'errors'; errors: SelfServiceError[] } | { kind: 'unavailable'; detail: string };

export async function fetchError(kratosPublicUrl: string, id: string, cookie: string | undefined): Promise<ErrorLookup> {
  // v0.6 reads `?error=`, v1 reads `?id=`; each ignores the other.
  const url = `${kratosPublicUrl}/self-service/errors?${new URLSearchParams({ id, error: id })}`;
  try {
    const res = await getJson(url, cookie);
    // An unknown error id is a 403/404 from Kratos; the page then says the details are gone.
    if (res.status === 200) return { kind: 'errors', errors: parseErrorContainer(res.body) };
    if (res.status < 500) return { kind: 'errors', errors: [] };
    return { kind: 'unavailable', detail: `status ${res.status}` };
  } catch (err) {
    return { kind: 'unavailable', detail: err instanceof Error ? err.message : String(err) };
  }
}

export type LogoutLookup =
  /** v1: the URL that ends this browser's session. */
  | { kind: 'v1'; logoutUrl: string }
  /** v1 without a session to end (its 401): nothing to log out of. */
  | { kind: 'signed-out' }
  /** No v1 logout flow (v0.6 has none) or no usable answer: v0.6's one-step endpoint. */
  | { kind: 'v0' };

/**
 * v1 Kratos logs a browser out in two steps (ask for a logout URL, then open it); v0.6 has
 * one GET endpoint, which v1 does not have (a 404 there).
 */
export async function fetchLogoutUrl(kratosPublicUrl: string, cookie: string | undefined): Promise<LogoutLookup> {
  try {
    const res = await getJson(`${kratosPublicUrl}/self-service/logout/browser`, cookie);
    const body = typeof res.body === 'object' && res.body !== null ? (res.body as { logout_url?: unknown; error?: unknown }) : {};
    if (res.status === 200 && typeof body.logout_url === 'string') return { kind: 'v1', logoutUrl: body.logout_url };
    // v1's createBrowserLogoutFlow answers a browser without a session 401 with a JSON error.
    if (res.status === 401 && typeof body.error === 'object' && body.error !== null) return { kind: 'signed-out' };
    return { kind: 'v0' };
  } catch {
    return { kind: 'v0' };
  }
}
