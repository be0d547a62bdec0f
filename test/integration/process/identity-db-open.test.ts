/**
 * An embedded identity database that cannot be opened names the file and the setting, not
 * only SQLite's text ("fatal: disk I/O error"). Spawns the real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';

test('a DSN naming something SQLite cannot use exits 1 with the file and "dsn" in the message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-db-open-'));
  // A FIFO: opening succeeds, SQLite's first I/O fails ("disk I/O error").
  const db = join(dir, 'kratos.sqlite');
  execFileSync('mkfifo', [db]);
  const [proxy, admin] = [await freePort(), await freePort()];
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} } }\nadmin: { listen: { port: ${admin} } }\nembedded_kratos: { enabled: true, config_file: ${resolve('config/kratos.yml')}, dsn: "sqlite://${db}", public_listen: { port: 0 }, admin_listen: { port: 0 } }\n`,
  );
  const gw = spawnGateway(['--config', file]);
  const code = await gw.exited;
  assert.equal(code, 1, gw.stderr());
  assert.match(
    gw.stderr(),
    new RegExp(`^kratos-gateway: fatal: dsn: cannot open the SQLite database ${db.replace(/[.\\/]/g, '\\$&')} \\(.+\\)$`, 'm'),
  );
});
