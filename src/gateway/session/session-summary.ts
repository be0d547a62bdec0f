import { toHeaderValue } from '../../http/header-value.js';
import { isMailbox } from './mailbox.js';
import { summaryBytes } from './entry-size.js';
import { packSummary, SummaryLayout } from './packed-summary.js';
import type { SessionSummary, TokenizedSession } from './summary-types.js';

export type { SessionSummary, TokenizedSession } from './summary-types.js';

/** A compact JWS (three base64url parts) of bounded size; anything else is not forwarded as a header. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;
const MAX_TOKENIZED_LENGTH = 16 * 1024;

/** The `tokenized` field of a whoami body asked with tokenize_as; throws InvalidSessionBody (fail closed) when unusable. */
function tokenizedOf(raw: unknown, nowMs: number): TokenizedSession {
  const why = 'identity_assertion.tokenize_as is set';
  if (typeof raw !== 'string')
    throw new InvalidSessionBody(`whoami body has no "tokenized" JWT (${why}: is the template configured in Kratos?)`);
  const m = raw.length <= MAX_TOKENIZED_LENGTH ? COMPACT_JWS.exec(raw) : null;
  if (m === null) throw new InvalidSessionBody(`whoami body's "tokenized" is not a compact JWT (${why})`);
  let exp: unknown;
  try {
    exp = (JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as { exp?: unknown } | null)?.exp;
  } catch {
    throw new InvalidSessionBody(`whoami body's "tokenized" payload is not JSON (${why})`);
  }
  // Without exp the cache could not be bounded by it; an expired one would be refused upstream.
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    throw new InvalidSessionBody(`whoami body's "tokenized" JWT has no numeric exp (${why})`);
  const expiresAtMs = exp * 1000;
  if (expiresAtMs <= nowMs) throw new InvalidSessionBody(`whoami body's "tokenized" JWT is already expired (clock skew with Kratos?)`);
  return { jwt: raw, expiresAtMs, keepUntilMs: nowMs + (expiresAtMs - nowMs) * 0.75 };
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

/** Claim values longer than this are dropped, not truncated: a cut value could compare equal to something it is not. */
const MAX_CLAIM_LENGTH = 4096;
/** Bounds what one list claim (roles, groups) or the address list may cost in the cache. */
const MAX_CLAIM_ITEMS = 64;

function claimOf(v: unknown): string[] | undefined {
  const one = (x: unknown): string | undefined =>
    (typeof x === 'string' && x.length <= MAX_CLAIM_LENGTH) || typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined;
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v.slice(0, MAX_CLAIM_ITEMS)) {
      const s = one(x);
      if (s !== undefined) out.push(s);
    }
    return out.length > 0 ? out : undefined;
  }
  const s = one(v);
  return s === undefined ? undefined : [s];
}

function verifiedAddressesOf(identity: unknown): Set<string> {
  const out = new Set<string>();
  const list = get(identity, ['verifiable_addresses']);
  if (!Array.isArray(list)) return out;
  for (const a of list.slice(0, MAX_CLAIM_ITEMS)) {
    const value = get(a, ['value']);
    // v0.6 and v1+ both carry `verified: boolean`; `status` alone is not proof.
    if (get(a, ['verified']) !== true || typeof value !== 'string' || value.length > MAX_CLAIM_LENGTH) continue;
    // An email address (v0.6 always; v1+ also verifies `sms`) counts only as one mailbox (mailbox.ts).
    const via = get(a, ['via']);
    if ((via === undefined || via === 'email') && !isMailbox(value)) continue;
    out.add(value.toLowerCase());
  }
  return out;
}

/** `aal1`/`aal2`/`aal3` → 1/2/3; anything else (absent in v0.6, `aal0`, garbage) → 1, the least assurance. */
function aalOf(v: unknown): number {
  const m = typeof v === 'string' ? /^aal([1-3])$/.exec(v) : null;
  return m === null ? 1 : Number(m[1]);
}

/**
 * Validates the whoami body enough to trust it and extracts the configured value paths
 * (`paths`: the configuration's SummaryLayout, or the paths themselves), packed as the cache
 * keeps them (packed-summary.ts).
 */
export function summarizeSession(
  body: unknown,
  paths: readonly string[] | SummaryLayout,
  nowMs: number,
  /** True when whoami was asked with tokenize_as: the body must then carry `tokenized`. */
  tokenized = false,
): SessionSummary | 'inactive' {
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
  const layout = paths instanceof SummaryLayout ? paths : SummaryLayout.of(paths);
  const n = layout.paths.length;
  // Exactly n long (no spare capacity): these arrays are what the cache keeps.
  const values = new Array<string | undefined>(n);
  const claims = new Array<readonly string[] | undefined>(n);
  for (let i = 0; i < n; i++) {
    const raw = get(s, layout.bodyPaths[i]!);
    const v = toHeaderValue(raw);
    values[i] = v !== undefined && v !== '' ? v : undefined;
    if (layout.isClaim[i]) claims[i] = claimOf(raw);
  }
  // Unknown and v1+ fields (authentication_methods, devices, …) are ignored: only these are
  // read, each with its type checked, so a new Kratos field cannot break parsing. `tokenized`
  // is read only when asked for: a bearer token nobody configured is not kept.
  const authenticatedAtMs = typeof s.authenticated_at === 'string' ? Date.parse(s.authenticated_at) : Number.NaN;
  const schemaId = get(s, ['identity', 'schema_id']);
  const safeIdentityId = toHeaderValue(identityId);
  if (safeIdentityId !== identityId) throw new InvalidSessionBody('identity id is not header-safe');
  return packSummary(layout, {
    identityId,
    sessionId,
    expiresAtMs,
    checkedAtMs: nowMs,
    values,
    claims,
    aal: aalOf(s.authenticator_assurance_level),
    authenticatedAtMs: Number.isNaN(authenticatedAtMs) ? undefined : authenticatedAtMs,
    schemaId: typeof schemaId === 'string' && schemaId.length <= MAX_CLAIM_LENGTH ? schemaId : undefined,
    verifiedAddresses: verifiedAddressesOf(s.identity),
    tokenized: tokenized ? tokenizedOf(s.tokenized, nowMs) : undefined,
  });
}

/** Estimated retained bytes, for the cache's byte bound (entry-size.ts). */
export const summarySize = summaryBytes;
