import type { HeaderMutator } from './types.js';

/**
 * Upstreams should trust the injected identity, not replay the credential; removing the
 * Kratos cookie also keeps upstream request headers small (oauth2-proxy #388, #1388).
 */
export function sessionCookieRemoval(cookieName: string): HeaderMutator {
  const prefix = cookieName + '=';
  return {
    mutate(headers) {
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
