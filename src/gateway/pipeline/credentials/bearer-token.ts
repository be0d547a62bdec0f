import type { CredentialExtractor } from './types.js';
import { isPlausibleToken } from './types.js';

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
export const bearerToken: CredentialExtractor = {
  kind: 'bearer',
  extract(headers) {
    const raw = headers.authorization;
    if (raw === undefined || raw.length < 8) return undefined;
    if (raw.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
    const value = raw.slice(7).trim();
    return isPlausibleToken(value) ? value : undefined;
  },
  whoamiHeaders: (value) => ({ authorization: `Bearer ${value}` }),
  reads: { headers: ['authorization'], cookies: [] },
  // Only when its bearer token is what authenticated the request: otherwise it may be the upstream's own scheme.
  removeUpstream(headers, authenticatedBy) {
    if (authenticatedBy) delete headers.authorization;
  },
};
