/**
 * The DSNs the embedded server accepts, and the SQLite path one names. Apart from db.ts so that
 * the gateway's thread (and the configuration check) can read a DSN without loading SQLite.
 */
import { KratosConfigError } from '../driver/config/config-error.js';

export function isSqliteDsn(dsn: string): boolean {
  return dsn === 'memory' || dsn === ':memory:' || dsn.startsWith('sqlite://') || dsn.startsWith('sqlite3://');
}

/**
 * Why a DSN is refused, naming only its scheme: a DSN copied from a production kratos.yml
 * (`postgres://kratos:<password>@db/kratos`) carries the database password.
 */
export function dsnProblem(dsn: string): string | undefined {
  if (isSqliteDsn(dsn)) return undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(dsn)?.[1];
  return `${scheme === undefined ? 'this DSN' : `a "${scheme}:" DSN`} is not supported (the embedded identity server uses SQLite): use "memory" or "sqlite://<path>"`;
}

/** ':memory:' or a file path. Kratos's `?_fk=true`-style query options are dropped: we set pragmas ourselves. */
export function sqlitePathFromDsn(dsn: string): string {
  const problem = dsnProblem(dsn);
  if (problem !== undefined) throw new KratosConfigError('dsn', problem);
  if (dsn === 'memory' || dsn === ':memory:') return ':memory:';
  const rest = dsn.replace(/^sqlite3?:\/\//, '').replace(/\?.*$/, '');
  if (rest === '' || rest === ':memory:' || rest === 'memory') return ':memory:';
  return rest;
}
