import type { SessionSummary } from '../../src/gateway/session/session-summary.js';

/** A cached session as the pipeline sees it, with the values `identity.traits.email` and `session.id` extracted. */
export const ALICE: SessionSummary = {
  identityId: '0a1b2c3d-0000-4000-8000-000000000001',
  sessionId: 'sess-1',
  expiresAtMs: Number.POSITIVE_INFINITY,
  values: new Map([
    ['identity.traits.email', 'alice@example.com'],
    ['session.id', 'sess-1'],
  ]),
};
