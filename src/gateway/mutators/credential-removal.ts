import type { HeaderMutator } from './types.js';

/**
 * Upstreams should trust the injected identity, not replay the Kratos credential; removing
 * the session cookie also keeps upstream request headers small (oauth2-proxy #388, #1388).
 * The Kratos cookie and `X-Session-Token` always go; `Authorization` only when its bearer
 * token is what authenticated the request (otherwise it may be the upstream's own scheme).
 */
export function credentialRemoval(cookieName: string): HeaderMutator {
  // By name with the whitespace around it trimmed, as the extractor's cookie parser reads it:
  // `ory_kratos_session =tok` authenticates, so it must not be forwarded either.
  const isKratosCookie = (c: string) => {
    const eq = c.indexOf('=');
    return eq !== -1 && c.slice(0, eq).trim() === cookieName;
  };
  return {
    mutate(headers, ctx) {
      if (headers['x-session-token'] !== undefined) delete headers['x-session-token'];
      if (ctx.credentialKind === 'bearer') delete headers.authorization;
      const cookie = headers.cookie;
      if (cookie === undefined || !cookie.includes(cookieName)) return;
      const kept = cookie
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c !== '' && !isKratosCookie(c));
      if (kept.length === 0) delete headers.cookie;
      else headers.cookie = kept.join('; ');
    },
  };
}
