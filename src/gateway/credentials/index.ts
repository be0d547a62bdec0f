import type { IncomingHttpHeaders } from 'node:http';
import { bearerToken } from './bearer-token.js';
import { sessionCookie } from './session-cookie.js';
import { sessionTokenHeader } from './session-token-header.js';
import type { Credential, CredentialExtractor } from './types.js';

export type { Credential, CredentialExtractor } from './types.js';

/**
 * Sources in precedence order: an explicit API credential beats the ambient browser cookie,
 * so a request carrying both is judged by the one its client deliberately sent.
 */
export function credentialExtractors(cookieName: string): CredentialExtractor[] {
  return [sessionTokenHeader, bearerToken, sessionCookie(cookieName)];
}

export function extractCredential(extractors: readonly CredentialExtractor[], headers: IncomingHttpHeaders): Credential | undefined {
  for (const source of extractors) {
    const value = source.extract(headers);
    if (value !== undefined) return { source, value };
  }
  return undefined;
}
