/** The SQLite path a DSN names. Apart from db.ts so that the gateway's thread can read it without loading SQLite. */
import { KratosConfigError, dsnProblem } from '../config.js';

/** ':memory:' or a file path. Kratos's `?_fk=true`-style query options are dropped: we set pragmas ourselves. */
export function sqlitePathFromDsn(dsn: string): string {
  const problem = dsnProblem(dsn);
  if (problem !== undefined) throw new KratosConfigError('dsn', problem);
  if (dsn === 'memory' || dsn === ':memory:') return ':memory:';
  const rest = dsn.replace(/^sqlite3?:\/\//, '').replace(/\?.*$/, '');
  if (rest === '' || rest === ':memory:' || rest === 'memory') return ':memory:';
  return rest;
}
