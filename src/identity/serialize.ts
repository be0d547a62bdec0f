/** The JSON shapes of identities and sessions (identity/identity.go, session/session.go). */
import { publicUrl, type IdentityContext } from './context.js';
import type { IdentityRecord } from './persistence/identities.js';
import type { SessionRecord } from './persistence/sessions.js';

export interface IdentityJson {
  id: string;
  schema_id: string;
  schema_url: string;
  traits: Record<string, unknown>;
  verifiable_addresses?: IdentityRecord['verifiable_addresses'];
  recovery_addresses?: IdentityRecord['recovery_addresses'];
  created_at: string;
  updated_at: string;
}

/** Field order follows Kratos's struct; both address lists are omitempty there. */
export function identityJson(ctx: IdentityContext, i: IdentityRecord): IdentityJson {
  return {
    id: i.id,
    schema_id: i.schema_id,
    schema_url: publicUrl(ctx, `/schemas/${i.schema_id}`),
    traits: i.traits,
    ...(i.verifiable_addresses.length > 0 ? { verifiable_addresses: i.verifiable_addresses } : {}),
    ...(i.recovery_addresses.length > 0 ? { recovery_addresses: i.recovery_addresses } : {}),
    created_at: i.created_at,
    updated_at: i.updated_at,
  };
}

export function sessionJson(ctx: IdentityContext, s: SessionRecord) {
  return {
    id: s.id,
    active: s.active,
    expires_at: s.expires_at,
    authenticated_at: s.authenticated_at,
    issued_at: s.issued_at,
    identity: identityJson(ctx, s.identity),
  };
}
