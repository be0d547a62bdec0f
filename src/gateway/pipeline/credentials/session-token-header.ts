import type { CredentialExtractor } from './types.js';
import { isPlausibleToken } from './types.js';

/** `X-Session-Token: <token>`, the Kratos native-app header. */
export const sessionTokenHeader: CredentialExtractor = {
  kind: 'session_token',
  extract(headers) {
    const raw = headers['x-session-token'];
    const value = Array.isArray(raw) ? undefined : raw?.trim();
    return value !== undefined && isPlausibleToken(value) ? value : undefined;
  },
  whoamiHeaders: (value) => ({ 'x-session-token': value }),
  reads: { headers: ['x-session-token'], cookies: [] },
  // Always: no upstream has a use for a Kratos session token.
  removeUpstream(headers) {
    if (headers['x-session-token'] !== undefined) delete headers['x-session-token'];
  },
};
