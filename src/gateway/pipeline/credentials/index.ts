import type { IncomingHttpHeaders } from 'node:http';
import { bearerToken } from './bearer-token.js';
import { sessionCookie } from './session-cookie.js';
import { sessionTokenHeader } from './session-token-header.js';
import type { Credential, CredentialExtractor, CredentialSourceFactory } from './types.js';

export type { Credential, CredentialExtractor, CredentialSourceFactory } from './types.js';

/**
 * The registry: one line per source, in precedence order. An explicit API credential beats the
 * ambient browser cookie, so a request carrying both is judged by the one its client
 * deliberately sent. Read when a configuration snapshot is built.
 */
export const credentialSourceRegistry: CredentialSourceFactory[] = [
  () => sessionTokenHeader,
  () => bearerToken,
  (config) => sessionCookie(config.kratos.session_cookie),
];

/** The registered sources for a session cookie name (the rest of the configuration is not read by any source). */
export function credentialExtractors(cookieName: string): CredentialExtractor[] {
  const config = { kratos: { session_cookie: cookieName } } as Parameters<CredentialSourceFactory>[0];
  return credentialSourceRegistry.map((build) => build(config));
}

export function extractCredential(extractors: readonly CredentialExtractor[], headers: IncomingHttpHeaders): Credential | undefined {
  for (const source of extractors) {
    const value = source.extract(headers);
    if (value !== undefined) return { source, value };
  }
  return undefined;
}
