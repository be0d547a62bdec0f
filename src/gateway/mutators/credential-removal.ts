import type { HeaderMutator } from './types.js';

/**
 * Upstreams should trust the injected identity, not replay the Kratos credential; removing
 * the session cookie also keeps upstream request headers small (oauth2-proxy #388, #1388).
 * The Kratos cookie and `X-Session-Token` always go; `Authorization` only when its bearer
 * token is what authenticated the request (otherwise it may be the upstream's own scheme).
 */
export function credentialRemoval(cookieName: string): HeaderMutator {
  const prefix = cookieName + '=';
  return {
    mutate(headers, ctx) {
      if (headers['x-session-token'] !== undefined) delete headers['x-session-token'];
      if (ctx.credentialKind === 'bearer') delete headers.authorization;
      const cookie = headers.cookie;
      if (cookie === undefined || !cookie.includes(prefix)) return;
      const kept = cookie
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c !== '' && !c.startsWith(prefix));
      if (kept.length === 0) delete headers.cookie;
      else headers.cookie = kept.join('; ');
    },
  };
}
