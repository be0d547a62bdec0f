import { credentialExtractors, type CredentialExtractor } from '../credentials/index.js';
import type { HeaderMutator } from './types.js';

export { isKratosCsrfCookieName } from '../credentials/session-cookie.js';

/**
 * Upstreams should trust the injected identity, not replay the Kratos credential; removing
 * the session cookie also keeps upstream request headers small (oauth2-proxy #388, #1388).
 * Not a list of credential kinds: every registered credential source declares how its
 * credential is removed (`removeUpstream`), and this step runs them all — the session cookie
 * and the Kratos CSRF cookie, `X-Session-Token` always, `Authorization` only when its bearer
 * token is what authenticated the request.
 */
export function credentialRemovalFor(sources: readonly CredentialExtractor[]): HeaderMutator {
  return {
    sets: [],
    mutate(headers, ctx) {
      for (const source of sources) source.removeUpstream(headers, ctx.credentialKind === source.kind);
    },
  };
}

/** The removal step for the registered sources and this session cookie name. */
export function credentialRemoval(cookieName: string): HeaderMutator {
  return credentialRemovalFor(credentialExtractors(cookieName));
}
