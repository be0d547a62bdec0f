/** Identities, their credentials, identifiers and addresses. Every multi-table write is one transaction. */
import { randomUUID } from 'node:crypto';
import { SqliteError } from 'better-sqlite3';
import type { DerivedAddresses, IdentityRecord, RecoveryAddress, VerifiableAddress } from '../identity/identity.js';
import { conflict, notFound } from '../x/http-error.js';
import type { Db } from './db.js';

export interface IdentityRow {
  id: string;
  schema_id: string;
  traits: string;
  created_at: string;
  updated_at: string;
  va: string;
  ra: string;
}

/**
 * One statement loads an identity with both address lists, so the whoami path stays a single
 * query. The address subqueries walk the identity_id indexes, whose entries are ordered by
 * rowid within one identity, so addresses come back in insertion order without a sort.
 */
export const IDENTITY_COLUMNS = `i.id AS id, i.schema_id AS schema_id, i.traits AS traits, i.created_at AS created_at, i.updated_at AS updated_at,
  (SELECT json_group_array(json_object('id', a.id, 'value', a.value, 'verified', json(CASE WHEN a.verified THEN 'true' ELSE 'false' END),
     'via', a.via, 'status', a.status, 'verified_at', a.verified_at, 'created_at', a.created_at, 'updated_at', a.updated_at))
   FROM identity_verifiable_addresses a WHERE a.identity_id = i.id) AS va,
  (SELECT json_group_array(json_object('id', r.id, 'value', r.value, 'via', r.via, 'created_at', r.created_at, 'updated_at', r.updated_at))
   FROM identity_recovery_addresses r WHERE r.identity_id = i.id) AS ra`;

export function identityFromRow(row: IdentityRow): IdentityRecord {
  return {
    id: row.id,
    schema_id: row.schema_id,
    traits: JSON.parse(row.traits) as Record<string, unknown>,
    verifiable_addresses: JSON.parse(row.va) as VerifiableAddress[],
    recovery_addresses: JSON.parse(row.ra) as RecoveryAddress[],
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function isUniqueViolation(e: unknown): boolean {
  return e instanceof SqliteError && (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');
}

export class IdentityStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      get: db.prepare(`SELECT ${IDENTITY_COLUMNS} FROM identities i WHERE i.id = ?`),
      list: db.prepare(`SELECT ${IDENTITY_COLUMNS} FROM identities i ORDER BY i.rowid LIMIT ? OFFSET ?`),
      insert: db.prepare('INSERT INTO identities (id, schema_id, traits, created_at, updated_at) VALUES (?, ?, ?, ?, ?)'),
      update: db.prepare('UPDATE identities SET schema_id = ?, traits = ?, updated_at = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM identities WHERE id = ?'),
      byIdentifier: db.prepare(
        `SELECT c.identity_id AS identity_id, c.config AS config FROM identity_credential_identifiers x
         JOIN identity_credentials c ON c.identity_id = x.identity_id AND c.type = x.type
         WHERE x.type = ? AND x.identifier = ?`,
      ),
      credential: db.prepare('SELECT config FROM identity_credentials WHERE identity_id = ? AND type = ?'),
      upsertCredential: db.prepare(
        `INSERT INTO identity_credentials (id, identity_id, type, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (identity_id, type) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      ),
      deleteIdentifiers: db.prepare('DELETE FROM identity_credential_identifiers WHERE identity_id = ? AND type = ?'),
      insertIdentifier: db.prepare('INSERT INTO identity_credential_identifiers (type, identifier, identity_id) VALUES (?, ?, ?)'),
      vaByIdentity: db.prepare('SELECT id, value FROM identity_verifiable_addresses WHERE identity_id = ?'),
      vaInsert: db.prepare(
        `INSERT INTO identity_verifiable_addresses (id, identity_id, via, value, verified, status, verified_at, created_at, updated_at)
         VALUES (?, ?, 'email', ?, 0, 'pending', NULL, ?, ?)`,
      ),
      vaDelete: db.prepare('DELETE FROM identity_verifiable_addresses WHERE id = ?'),
      vaFind: db.prepare('SELECT id, identity_id FROM identity_verifiable_addresses WHERE via = ? AND value = ?'),
      vaVerify: db.prepare(
        `UPDATE identity_verifiable_addresses SET verified = 1, status = 'completed', verified_at = ?, updated_at = ? WHERE id = ?`,
      ),
      vaStatus: db.prepare('UPDATE identity_verifiable_addresses SET status = ?, updated_at = ? WHERE id = ?'),
      raByIdentity: db.prepare('SELECT id, value FROM identity_recovery_addresses WHERE identity_id = ?'),
      raInsert: db.prepare(
        `INSERT INTO identity_recovery_addresses (id, identity_id, via, value, created_at, updated_at) VALUES (?, ?, 'email', ?, ?, ?)`,
      ),
      raDelete: db.prepare('DELETE FROM identity_recovery_addresses WHERE id = ?'),
      raFind: db.prepare('SELECT id, identity_id FROM identity_recovery_addresses WHERE via = ? AND value = ?'),
    };
  }

  get(id: string): IdentityRecord | undefined {
    const row = this.stmts.get.get(id) as IdentityRow | undefined;
    return row && identityFromRow(row);
  }

  mustGet(id: string): IdentityRecord {
    const found = this.get(id);
    if (!found) throw notFound();
    return found;
  }

  list(page: number, perPage: number): IdentityRecord[] {
    return (this.stmts.list.all(perPage, page * perPage) as IdentityRow[]).map(identityFromRow);
  }

  /** Creates the identity and, when given, its password credential; 409 when an identifier or address is taken. */
  create(
    input: { schemaId: string; traits: Record<string, unknown>; derived: DerivedAddresses; passwordHash?: string },
    now: Date,
  ): IdentityRecord {
    const id = randomUUID();
    const ts = now.toISOString();
    try {
      this.db.transaction(() => {
        this.stmts.insert.run(id, input.schemaId, JSON.stringify(input.traits), ts, ts);
        this.syncAddresses(id, input.derived, ts);
        this.writePassword(id, input.passwordHash, input.derived.identifiers, ts);
      })();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict();
      throw e;
    }
    return this.mustGet(id);
  }

  /** Replaces traits; addresses whose value is unchanged keep their id and verification state. */
  update(id: string, input: { schemaId: string; traits: Record<string, unknown>; derived: DerivedAddresses }, now: Date): IdentityRecord {
    const ts = now.toISOString();
    try {
      this.db.transaction(() => {
        const changed = this.stmts.update.run(input.schemaId, JSON.stringify(input.traits), ts, id).changes;
        if (changed === 0) throw notFound();
        this.syncAddresses(id, input.derived, ts);
        if (this.stmts.credential.get(id, 'password')) this.writeIdentifiers(id, input.derived.identifiers);
      })();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict();
      throw e;
    }
    return this.mustGet(id);
  }

  setPassword(id: string, passwordHash: string, identifiers: string[], now: Date): void {
    try {
      this.db.transaction(() => this.writePassword(id, passwordHash, identifiers, now.toISOString()))();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict();
      throw e;
    }
  }

  delete(id: string): boolean {
    return this.stmts.delete.run(id).changes > 0;
  }

  /** The identity owning a password identifier, with its stored hash. */
  findPasswordCredential(identifier: string): { identityId: string; hashedPassword: string } | undefined {
    const row = this.stmts.byIdentifier.get('password', identifier) as { identity_id: string; config: string } | undefined;
    if (!row) return undefined;
    const config = JSON.parse(row.config) as { hashed_password?: string };
    return { identityId: row.identity_id, hashedPassword: config.hashed_password ?? '' };
  }

  hasPassword(identityId: string): boolean {
    return this.stmts.credential.get(identityId, 'password') !== undefined;
  }

  findVerifiableAddress(value: string): { id: string; identity_id: string } | undefined {
    return this.stmts.vaFind.get('email', value) as { id: string; identity_id: string } | undefined;
  }

  findRecoveryAddress(value: string): { id: string; identity_id: string } | undefined {
    return this.stmts.raFind.get('email', value) as { id: string; identity_id: string } | undefined;
  }

  markAddressVerified(addressId: string, now: Date): void {
    const ts = now.toISOString();
    this.stmts.vaVerify.run(ts, ts, addressId);
  }

  markAddressSent(addressId: string, now: Date): void {
    this.stmts.vaStatus.run('sent', now.toISOString(), addressId);
  }

  private writePassword(id: string, hash: string | undefined, identifiers: string[], ts: string): void {
    if (hash === undefined) return;
    this.stmts.upsertCredential.run(randomUUID(), id, 'password', JSON.stringify({ hashed_password: hash }), ts, ts);
    this.writeIdentifiers(id, identifiers);
  }

  private writeIdentifiers(id: string, identifiers: string[]): void {
    this.stmts.deleteIdentifiers.run(id, 'password');
    for (const ident of new Set(identifiers)) this.stmts.insertIdentifier.run('password', ident, id);
  }

  private syncAddresses(id: string, derived: DerivedAddresses, ts: string): void {
    const sync = (
      existing: Array<{ id: string; value: string }>,
      wanted: string[],
      del: (aid: string) => void,
      ins: (value: string) => void,
    ) => {
      const want = new Set(wanted);
      const have = new Set<string>();
      for (const row of existing) {
        if (want.has(row.value)) have.add(row.value);
        else del(row.id);
      }
      for (const value of want) if (!have.has(value)) ins(value);
    };
    sync(
      this.stmts.vaByIdentity.all(id) as Array<{ id: string; value: string }>,
      derived.verifiable,
      (aid) => this.stmts.vaDelete.run(aid),
      (value) => this.stmts.vaInsert.run(randomUUID(), id, value, ts, ts),
    );
    sync(
      this.stmts.raByIdentity.all(id) as Array<{ id: string; value: string }>,
      derived.recovery,
      (aid) => this.stmts.raDelete.run(aid),
      (value) => this.stmts.raInsert.run(randomUUID(), id, value, ts, ts),
    );
  }
}
