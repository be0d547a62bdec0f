/**
 * Versioned schema migrations. Each runs once, inside a transaction, and is recorded in
 * schema_migrations; add new versions at the end and never edit a released one.
 */
import type Database from 'better-sqlite3';

const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
CREATE TABLE identities (
  id TEXT PRIMARY KEY,
  schema_id TEXT NOT NULL,
  traits TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE identity_credentials (
  id TEXT PRIMARY KEY,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  config TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (identity_id, type)
);
CREATE TABLE identity_credential_identifiers (
  type TEXT NOT NULL,
  identifier TEXT NOT NULL,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  PRIMARY KEY (type, identifier)
);
CREATE INDEX identity_credential_identifiers_identity ON identity_credential_identifiers(identity_id);
CREATE TABLE identity_verifiable_addresses (
  id TEXT PRIMARY KEY,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  via TEXT NOT NULL,
  value TEXT NOT NULL,
  verified INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  verified_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (via, value)
);
CREATE INDEX identity_verifiable_addresses_identity ON identity_verifiable_addresses(identity_id);
CREATE TABLE identity_recovery_addresses (
  id TEXT PRIMARY KEY,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  via TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (via, value)
);
CREATE INDEX identity_recovery_addresses_identity ON identity_recovery_addresses(identity_id);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  active INTEGER NOT NULL,
  issued_at TEXT NOT NULL,
  authenticated_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX sessions_identity ON sessions(identity_id);
CREATE TABLE selfservice_flows (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE TABLE selfservice_link_tokens (
  token_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  flow_id TEXT NOT NULL,
  identity_id TEXT REFERENCES identities(id) ON DELETE CASCADE,
  address_id TEXT,
  used INTEGER NOT NULL DEFAULT 0,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE selfservice_errors (
  id TEXT PRIMARY KEY,
  errors TEXT NOT NULL,
  seen_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE courier_messages (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  template_type TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX courier_messages_seq ON courier_messages(seq);
`,
  },
];

export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, new Date().toISOString());
    })();
  }
}
