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

export function identityJson(ctx: IdentityContext, i: IdentityRecord): IdentityJson {
  const out: IdentityJson = {
    id: i.id,
    schema_id: i.schema_id,
    schema_url: publicUrl(ctx, `/schemas/${i.schema_id}`),
    traits: i.traits,
    created_at: i.created_at,
    updated_at: i.updated_at,
  };
  // Both lists are omitempty in Kratos.
  if (i.verifiable_addresses.length > 0) out.verifiable_addresses = i.verifiable_addresses;
  if (i.recovery_addresses.length > 0) out.recovery_addresses = i.recovery_addresses;
  return out;
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
