/** Self-service flows, stored as one JSON document per flow: they are read and written whole. */
import type { Db } from './db.js';

export type FlowKind = 'login' | 'registration' | 'settings' | 'recovery' | 'verification';

export interface StoredFlow {
  id: string;
  kind: FlowKind;
  expires_at: string;
}

export class FlowStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO selfservice_flows (id, kind, data, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
      ),
      get: db.prepare('SELECT data FROM selfservice_flows WHERE id = ? AND kind = ?'),
    };
  }

  save<T extends StoredFlow>(flow: T): void {
    this.stmts.upsert.run(flow.id, flow.kind, JSON.stringify(flow), flow.expires_at);
  }

  get<T extends StoredFlow>(id: string, kind: FlowKind): T | undefined {
    const row = this.stmts.get.get(id, kind) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
}
