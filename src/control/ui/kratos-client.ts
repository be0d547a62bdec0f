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
  /** Unknown, expired, foreign or session-less flow: the browser should start a new one. */
  | { kind: 'restart'; status: number }
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
  // 400 malformed id, 401 no session (settings), 403 foreign/unknown settings flow, 404 unknown, 410 expired.
  if (res.status >= 400 && res.status < 500) return { kind: 'restart', status: res.status };
  return { kind: 'unavailable', detail: `status ${res.status}` };
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

/**
 * v1 Kratos logs a browser out in two steps (ask for a logout URL, then open it); v0.6 has
 * one GET endpoint. Returns the v1 URL when the server offers one, otherwise undefined.
 */
export async function fetchLogoutUrl(kratosPublicUrl: string, cookie: string | undefined): Promise<string | undefined> {
  try {
    const res = await getJson(`${kratosPublicUrl}/self-service/logout/browser`, cookie);
    if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) return undefined;
    const url = (res.body as { logout_url?: unknown }).logout_url;
    return typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}
