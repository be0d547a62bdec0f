/**
 * The identity server's sessions in SQLite (not the gateway's session cache). Tokens are never
 * stored: only their SHA-256, behind a unique index that whoami hits once.
 */
import type { IdentityRecord } from '../identity/identity.js';
import { buildSession, type SessionRecord } from '../session/session.js';
import { randomAlphanumeric, sha256Hex } from '../x/random.js';
import type { Db } from './db.js';
import { IDENTITY_COLUMNS, identityFromRow, type IdentityRow } from './identity-store.js';

export interface SessionRow extends IdentityRow {
  s_id: string;
  s_active: number;
  s_issued_at: string;
  s_authenticated_at: string;
  s_expires_at: string;
}

export class SessionRepository {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        'INSERT INTO sessions (id, token_hash, identity_id, active, issued_at, authenticated_at, expires_at) VALUES (?, ?, ?, 1, ?, ?, ?)',
      ),
      byToken: db.prepare(
        `SELECT s.id AS s_id, s.active AS s_active, s.issued_at AS s_issued_at, s.authenticated_at AS s_authenticated_at,
                s.expires_at AS s_expires_at, ${IDENTITY_COLUMNS}
         FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = ?`,
      ),
      revoke: db.prepare('UPDATE sessions SET active = 0 WHERE token_hash = ?'),
    };
  }

  /** Stores a new active session and returns it with its token, which exists only in this return value. */
  create(identity: IdentityRecord, authenticatedAt: Date, lifespanMs: number, now: Date): { token: string; session: SessionRecord } {
    const token = randomAlphanumeric(32);
    const session = buildSession(identity, authenticatedAt, lifespanMs, now);
    this.stmts.insert.run(session.id, sha256Hex(token), identity.id, session.issued_at, session.authenticated_at, session.expires_at);
    return { token, session };
  }

  /** The stored row a token names, JSON columns still as text (whoami splices them unparsed). */
  findRowByToken(token: string): SessionRow | undefined {
    return this.stmts.byToken.get(sha256Hex(token)) as SessionRow | undefined;
  }

  /** The session a token names, whatever its state; callers decide what active/expired mean. */
  findByToken(token: string): SessionRecord | undefined {
    const row = this.findRowByToken(token);
    if (!row) return undefined;
    return {
      id: row.s_id,
      active: row.s_active === 1,
      expires_at: row.s_expires_at,
      authenticated_at: row.s_authenticated_at,
      issued_at: row.s_issued_at,
      identity: identityFromRow(row),
    };
  }

  /** True when the token named a session. */
  revoke(token: string): boolean {
    return this.stmts.revoke.run(sha256Hex(token)).changes > 0;
  }
}
