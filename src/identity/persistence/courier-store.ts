/** The courier's message queue; the admin API lists it, oldest first. */
import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';

export type CourierStatus = 'queued' | 'sent' | 'abandoned';

export interface CourierMessage {
  id: string;
  type: 'email';
  status: CourierStatus;
  recipient: string;
  subject: string;
  body: string;
  template_type: string;
  created_at: string;
  updated_at: string;
}

export class CourierStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO courier_messages (id, seq, type, status, recipient, subject, body, template_type, created_at, updated_at)
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM courier_messages), 'email', 'queued', ?, ?, ?, ?, ?, ?)`,
      ),
      status: db.prepare('UPDATE courier_messages SET status = ?, updated_at = ? WHERE id = ?'),
      list: db.prepare(
        'SELECT id, type, status, recipient, subject, body, template_type, created_at, updated_at FROM courier_messages ORDER BY seq',
      ),
    };
  }

  enqueue(m: { recipient: string; subject: string; body: string; templateType: string }, now: Date): CourierMessage {
    const id = randomUUID();
    const ts = now.toISOString();
    this.stmts.insert.run(id, m.recipient, m.subject, m.body, m.templateType, ts, ts);
    return {
      id,
      type: 'email',
      status: 'queued',
      recipient: m.recipient,
      subject: m.subject,
      body: m.body,
      template_type: m.templateType,
      created_at: ts,
      updated_at: ts,
    };
  }

  setStatus(id: string, status: CourierStatus, now: Date): void {
    this.stmts.status.run(status, now.toISOString(), id);
  }

  list(): CourierMessage[] {
    return this.stmts.list.all() as CourierMessage[];
  }
}
