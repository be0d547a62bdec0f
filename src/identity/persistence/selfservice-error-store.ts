/** Errors forwarded to the error UI, kept so the UI can fetch them by id. */
import { randomUUID } from 'node:crypto';
import type { GenericError } from '../x/http-error.js';
import type { Db } from './db.js';

export interface ErrorContainer {
  id: string;
  errors: GenericError[];
  created_at: string;
  updated_at: string;
}

export class SelfServiceErrorStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare('INSERT INTO selfservice_errors (id, errors, seen_at, created_at, updated_at) VALUES (?, ?, NULL, ?, ?)'),
      get: db.prepare('SELECT id, errors, created_at, updated_at FROM selfservice_errors WHERE id = ?'),
      seen: db.prepare('UPDATE selfservice_errors SET seen_at = ? WHERE id = ?'),
    };
  }

  add(error: GenericError, now: Date): string {
    const id = randomUUID();
    const ts = now.toISOString();
    this.stmts.insert.run(id, JSON.stringify([error]), ts, ts);
    return id;
  }

  /** Reads a container and marks it seen. */
  read(id: string, now: Date): ErrorContainer | undefined {
    const row = this.stmts.get.get(id) as { id: string; errors: string; created_at: string; updated_at: string } | undefined;
    if (!row) return undefined;
    this.stmts.seen.run(now.toISOString(), id);
    return { id: row.id, errors: JSON.parse(row.errors) as GenericError[], created_at: row.created_at, updated_at: row.updated_at };
  }
}
