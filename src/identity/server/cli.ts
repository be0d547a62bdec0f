/**
 * Standalone identity server: `node dist/identity/server/cli.js --config kratos.yml`
 * (or `npx tsx src/identity/server/cli.ts --config kratos.yml`). Listens where serve.public/admin
 * host and port say (default 127.0.0.1:4433 and :4434).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { createLogger } from '../../log.js';
import { KratosConfigError } from '../driver/config/config-error.js';
import { startIdentityServer } from './server.js';

function configError(message: string): never {
  process.stderr.write(`kratos config error: ${message}\n`);
  process.exit(1);
}

function listenOf(raw: unknown, which: 'public' | 'admin', defaultPort: number): { host: string; port: number } {
  const serve = (raw as { serve?: Record<string, { host?: unknown; port?: unknown } | undefined> } | null)?.serve?.[which];
  const host = typeof serve?.host === 'string' && serve.host !== '' ? serve.host : '127.0.0.1';
  const port = serve?.port === undefined ? defaultPort : serve.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    configError(`serve.${which}.port: must be a port number`);
  return { host, port };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, dsn: { type: 'string' }, 'log-level': { type: 'string', default: 'info' } },
  });
  if (!values.config) configError('--config <kratos.yml> is required');
  const path = resolve(values.config);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    configError(`${values.config}: ${(e as Error).message.split('\n')[0] ?? 'cannot read'}`);
  }
  const rawDsn = (raw as { dsn?: unknown } | null)?.dsn;
  const dsn = values.dsn ?? (typeof rawDsn === 'string' ? rawDsn : 'sqlite://./data/kratos.sqlite');
  const logger = createLogger((values['log-level'] ?? 'info') as 'info');
  try {
    const server = await startIdentityServer({
      config: raw,
      configDir: dirname(path),
      publicListen: listenOf(raw, 'public', 4433),
      adminListen: listenOf(raw, 'admin', 4434),
      dsn,
      logger,
    });
    process.stdout.write(`identity server: public ${server.publicUrl}, admin ${server.adminUrl}\n`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (e) {
    if (e instanceof KratosConfigError) configError(e.message);
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`identity server failed to start: ${err.code ? `${err.code} ` : ''}${err.message}\n`);
    process.exit(1);
  }
}

void main();
