/**
 * Identities as Kratos v0.6 models them (identity/identity.go, identity/address.go): traits, the
 * addresses the schema extension derives from them, and their JSON shape.
 */
import { publicUrl } from '../x/urls.js';

export interface VerifiableAddress {
  id: string;
  value: string;
  verified: boolean;
  via: string;
  status: 'pending' | 'sent' | 'completed';
  verified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface RecoveryAddress {
  id: string;
  value: string;
  via: string;
  created_at: string;
  updated_at: string;
}

export interface IdentityRecord {
  id: string;
  schema_id: string;
  traits: Record<string, unknown>;
  verifiable_addresses: VerifiableAddress[];
  recovery_addresses: RecoveryAddress[];
  created_at: string;
  updated_at: string;
}

/** What the traits schema's `ory.sh/kratos` extension derives from an identity's traits. */
export interface DerivedAddresses {
  identifiers: string[];
  verifiable: string[];
  recovery: string[];
}

/**
 * Login identifiers longer than this are refused by schema validation (schema/traits.ts)
 * even when the identity schema sets no maxLength. Kratos keeps identifiers in a
 * VARCHAR(255) column (identity_credential_identifiers.identifier, on PostgreSQL, MySQL and
 * CockroachDB; its SQLite schema uses TEXT), so a longer one is not storable there either.
 */
export const MAX_IDENTIFIER_LENGTH = 255;

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
export function identityJson(ctx: { publicBase: string }, i: IdentityRecord): IdentityJson {
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
