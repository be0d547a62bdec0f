import type { GatewayConfig } from '../../../config/schema.js';
import { normalizeHeaderName } from '../../../http/header-name.js';
import type { HeaderMutator } from './types.js';

/** The header every authenticated request carries upstream. */
export const IDENTITY_ID_HEADER = 'x-kratos-authenticated-identity-id';

/** Every identity header name the configuration can set (global and per-route), plus the identity id. */
export function identityHeaderNames(config: GatewayConfig): string[] {
  const names = new Set<string>([IDENTITY_ID_HEADER]);
  for (const mapping of [config.identity_headers, ...config.routes.map((r) => r.identity_headers ?? {})]) {
    for (const header of Object.keys(mapping)) names.add(normalizeHeaderName(header));
  }
  return [...names];
}

/** `X-Kratos-Authenticated-Identity-Id` plus the route's configured identity headers. */
export const identityHeaders: HeaderMutator = {
  sets: [IDENTITY_ID_HEADER],
  mutate(headers, { route, session }) {
    if (session === undefined || route === undefined) return;
    headers[IDENTITY_ID_HEADER] = session.identityId;
    for (const [name, path] of route.identityHeaders) {
      const value = session.values.get(path);
      if (value !== undefined) headers[name] = value;
    }
  },
};

/** The mutator with the names this configuration sets declared. */
export function identityHeadersFor(config: GatewayConfig): HeaderMutator {
  return { sets: identityHeaderNames(config), mutate: identityHeaders.mutate };
}
