import { toHeaderValue } from '../headers/header-value.js';

/**
 * What the gateway keeps of a Kratos session: only what header injection and policy need,
 * already rendered as header-safe strings, so a cache hit does no parsing or formatting.
 */
export interface SessionSummary {
  readonly identityId: string;
  readonly sessionId: string;
  /** Epoch ms; the cache never serves an entry past this. */
  readonly expiresAtMs: number;
  /** Source path (e.g. `identity.traits.email`) → header-safe value; absent when the session has none. */
  readonly values: ReadonlyMap<string, string>;
}

export class InvalidSessionBody extends Error {}

function get(obj: unknown, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Validates the whoami body enough to trust it and extracts the configured value paths. */
export function summarizeSession(body: unknown, valuePaths: readonly string[], nowMs: number): SessionSummary | 'inactive' {
  if (body === null || typeof body !== 'object') throw new InvalidSessionBody('whoami body is not an object');
  const s = body as Record<string, unknown>;
  const identityId = get(s, ['identity', 'id']);
  const sessionId = s.id;
  if (typeof identityId !== 'string' || identityId === '' || typeof sessionId !== 'string') {
    throw new InvalidSessionBody('whoami body has no session id or identity id');
  }
  if (s.active !== true) return 'inactive';
  let expiresAtMs = Number.POSITIVE_INFINITY;
  if (s.expires_at !== undefined && s.expires_at !== null) {
    expiresAtMs = Date.parse(String(s.expires_at));
    if (Number.isNaN(expiresAtMs)) throw new InvalidSessionBody('whoami body has an invalid expires_at');
    if (expiresAtMs <= nowMs) return 'inactive';
  }
  const values = new Map<string, string>();
  for (const path of valuePaths) {
    // Mapping paths name `session.…` (the whoami body itself) or `identity.…` (inside it).
    const segments = path.split('.');
    const v = toHeaderValue(get(s, segments[0] === 'session' ? segments.slice(1) : segments));
    if (v !== undefined && v !== '') values.set(path, v);
  }
  const safeIdentityId = toHeaderValue(identityId);
  if (safeIdentityId !== identityId) throw new InvalidSessionBody('identity id is not header-safe');
  return { identityId, sessionId, expiresAtMs, values };
}

/** Rough retained size in bytes, for the cache's byte bound. */
export function summarySize(summary: SessionSummary): number {
  let size = 160 + summary.identityId.length + summary.sessionId.length;
  for (const [k, v] of summary.values) size += 48 + k.length + v.length;
  return size;
}
