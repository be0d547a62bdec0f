/** Opens the SQLite database a DSN names; file databases run in WAL mode so readers never wait on the writer. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sqlitePathFromDsn } from './dsn.js';
import { migrate } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(dsn: string): Db {
  const path = sqlitePathFromDsn(dsn);
  let db: Db | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path);
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db?.close();
    // SQLite's own text ("disk I/O error", "file is not a database") names neither the file
    // nor the setting; the operator saw only "fatal: disk I/O error".
    throw Object.assign(new Error(`dsn: cannot open the SQLite database ${resolve(path)} (${(err as Error).message})`), {
      code: (err as { code?: unknown }).code,
    });
  }
}
