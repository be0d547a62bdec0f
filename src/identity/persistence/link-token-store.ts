/**
 * Single-use recovery and verification link tokens, stored HMACed with the cookie secret as
 * Kratos does. Lookups try every configured secret, so rotating secrets keeps sent links valid.
 */
import { hmacHex, randomAlphanumeric } from '../x/random.js';
import type { Db } from './db.js';

export type LinkTokenKind = 'recovery' | 'verification';

export interface LinkToken {
  kind: LinkTokenKind;
  flow_id: string;
  identity_id: string | null;
  address_id: string | null;
  used: boolean;
  expires_at: string;
}

export class LinkTokenStore {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly secrets: string[],
  ) {
    this.stmts = {
      insert: db.prepare(
        'INSERT INTO selfservice_link_tokens (token_hash, kind, flow_id, identity_id, address_id, used, expires_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
      ),
      find: db.prepare(
        'SELECT token_hash, kind, flow_id, identity_id, address_id, used, expires_at FROM selfservice_link_tokens WHERE token_hash = ? AND kind = ?',
      ),
      use: db.prepare('UPDATE selfservice_link_tokens SET used = 1 WHERE token_hash = ? AND used = 0'),
    };
  }

  create(t: Omit<LinkToken, 'used'>, now: Date): string {
    const token = randomAlphanumeric(32);
    this.stmts.insert.run(
      hmacHex(this.secrets[0] ?? '', token),
      t.kind,
      t.flow_id,
      t.identity_id,
      t.address_id,
      t.expires_at,
      now.toISOString(),
    );
    return token;
  }

  /** Finds and atomically consumes a token; `used` reports whether it had been consumed before. */
  consume(token: string, kind: LinkTokenKind): LinkToken | undefined {
    for (const secret of this.secrets) {
      const hash = hmacHex(secret, token);
      const row = this.stmts.find.get(hash, kind) as (Omit<LinkToken, 'used'> & { used: number; token_hash: string }) | undefined;
      if (!row) continue;
      const consumedNow = this.stmts.use.run(hash).changes === 1;
      return {
        kind: row.kind,
        flow_id: row.flow_id,
        identity_id: row.identity_id,
        address_id: row.address_id,
        used: !consumedNow,
        expires_at: row.expires_at,
      };
    }
    return undefined;
  }
}
