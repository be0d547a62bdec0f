/**
 * Deletes rows nobody can use any more, so a long-running server's database does not grow
 * with every abandoned login page. Expired flows are kept for a day first: until then a
 * fetch still answers 410 with where to start over, rather than 404.
 */
import type { Logger } from '../../log.js';
import type { Clock } from '../x/clock.js';
import type { Db } from './db.js';

const DAY_MS = 24 * 3600_000;

export class Janitor {
  private readonly stmts;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.stmts = {
      flows: db.prepare('DELETE FROM selfservice_flows WHERE expires_at < ?'),
      tokens: db.prepare('DELETE FROM selfservice_link_tokens WHERE expires_at < ?'),
      sessions: db.prepare('DELETE FROM sessions WHERE expires_at < ?'),
      errors: db.prepare('DELETE FROM selfservice_errors WHERE created_at < ?'),
    };
  }

  /** One sweep; returns how many rows went. */
  run(): number {
    const now = this.clock.now().getTime();
    const dayAgo = new Date(now - DAY_MS).toISOString();
    const weekAgo = new Date(now - 7 * DAY_MS).toISOString();
    const removed =
      this.stmts.flows.run(dayAgo).changes +
      this.stmts.tokens.run(dayAgo).changes +
      this.stmts.sessions.run(dayAgo).changes +
      this.stmts.errors.run(weekAgo).changes;
    if (removed > 0) this.logger.debug({ removed }, 'identity janitor: removed expired rows');
    return removed;
  }

  start(intervalMs = 3600_000): void {
    this.safeRun();
    this.timer = setInterval(() => this.safeRun(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private safeRun(): void {
    try {
      this.run();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'identity janitor: sweep failed');
    }
  }
}
