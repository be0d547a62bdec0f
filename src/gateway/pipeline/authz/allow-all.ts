import type { Authorizer } from './types.js';

/** Every authenticated (or anonymous-route) request may pass: the route's auth mode is the whole policy today. */
export const allowAll: Authorizer = {
  kind: 'allow_all',
  authorize: () => undefined,
  readsMethod: () => false,
};
