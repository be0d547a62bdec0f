import { NOT_A_SESSION, type StoredValue } from '../../../../src/gateway/session/store/session-store.js';
import type { SessionSummary } from '../../../../src/gateway/session/session-summary.js';

/**
 * What a summary says, as plain data: for comparing a summary with one rebuilt from it (the
 * codec packs what it decodes, so the two differ in form). Absent policy fields read as the
 * least, as route policies read them.
 */
export function plainSummary(v: StoredValue | undefined): unknown {
  if (v === undefined || v === NOT_A_SESSION) return v;
  const s = v as SessionSummary;
  return {
    identityId: s.identityId,
    sessionId: s.sessionId,
    expiresAtMs: s.expiresAtMs,
    checkedAtMs: s.checkedAtMs,
    values: Object.fromEntries(s.values),
    claims: Object.fromEntries(s.claims ?? []),
    aal: s.aal ?? 1,
    authenticatedAtMs: s.authenticatedAtMs,
    schemaId: s.schemaId,
    verifiedAddresses: [...(s.verifiedAddresses ?? [])].sort(),
    tokenized: s.tokenized,
  };
}
