/** Everything a request handler needs, built once per server. */
import type { Logger } from '../log.js';
import type { Clock } from './clock.js';
import type { KratosConfig } from './config.js';
import type { CourierService } from './courier/service.js';
import type { CsrfProtection } from './csrf.js';
import type { SessionCookie } from './cookies.js';
import type { PasswordHasher } from './hash.js';
import type { Db } from './persistence/db.js';
import type { FlowStore } from './persistence/flows.js';
import type { IdentityStore } from './persistence/identities.js';
import type { SelfServiceErrorStore } from './persistence/selfservice-errors.js';
import type { SessionStore } from './persistence/sessions.js';
import type { LinkTokenStore } from './persistence/tokens.js';
import type { IdentitySchemas } from './schema/traits.js';

export interface IdentityContext {
  cfg: KratosConfig;
  /** serve.public.base_url without its trailing slash; every link and form action starts with it. */
  publicBase: string;
  clock: Clock;
  logger: Logger;
  db: Db;
  identities: IdentityStore;
  sessions: SessionStore;
  flows: FlowStore;
  tokens: LinkTokenStore;
  errors: SelfServiceErrorStore;
  courier: CourierService;
  schemas: IdentitySchemas;
  hasher: PasswordHasher;
  csrf: CsrfProtection;
  sessionCookie: SessionCookie;
}

export function publicUrl(ctx: IdentityContext, path: string): string {
  return `${ctx.publicBase}${path}`;
}

export function withQuery(base: string, params: Record<string, string>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}
