import { IDENTITY_ID_HEADER } from '../headers/identity-headers.js';
import type { HeaderMutator } from './types.js';

/** `X-Kratos-Authenticated-Identity-Id` plus the route's configured identity headers. */
export const identityHeaders: HeaderMutator = {
  mutate(headers, { route, session }) {
    if (session === undefined || route === undefined) return;
    headers[IDENTITY_ID_HEADER] = session.identityId;
    for (const [name, path] of route.identityHeaders) {
      const value = session.values.get(path);
      if (value !== undefined) headers[name] = value;
    }
  },
};
