/**
 * Everything a request handler needs, built once per server (Kratos's driver registry). Only
 * types are imported here, so any package may depend on it without pulling in the others.
 */
import type { Logger } from '../../log.js';
import type { CourierService } from '../courier/service.js';
import type { PasswordHasher } from '../hash/hasher.js';
import type { Db } from '../persistence/db.js';
import type { FlowStore } from '../persistence/flow-store.js';
import type { IdentityStore } from '../persistence/identity-store.js';
import type { LinkTokenStore } from '../persistence/link-token-store.js';
import type { SelfServiceErrorStore } from '../persistence/selfservice-error-store.js';
import type { SessionRepository } from '../persistence/session-repository.js';
import type { IdentitySchemas } from '../schema/traits.js';
import type { SessionCookie } from '../session/cookie.js';
import type { Clock } from '../x/clock.js';
import type { CsrfProtection } from '../x/nosurf.js';
import type { KratosConfig } from './config/config.js';

export interface IdentityContext {
  cfg: KratosConfig;
  /** serve.public.base_url without its trailing slash; every link and form action starts with it. */
  publicBase: string;
  clock: Clock;
  logger: Logger;
  db: Db;
  identities: IdentityStore;
  sessions: SessionRepository;
  flows: FlowStore;
  tokens: LinkTokenStore;
  errors: SelfServiceErrorStore;
  courier: CourierService;
  schemas: IdentitySchemas;
  hasher: PasswordHasher;
  csrf: CsrfProtection;
  sessionCookie: SessionCookie;
}
