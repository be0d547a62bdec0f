/**
 * The embedded identity server's kratos.yml and the gateway's embedded_kratos.dsn may hold
 * credentials (a copied production kratos.yml has `dsn: postgres://kratos:<password>@...` and
 * `courier.smtp.connection_uri: smtps://user:<password>@...`). A value refused there is named
 * by its key, never printed, and what would fail at start-up fails `validate` already.
 * Spawns the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../../helpers/servers.js';
import { runCli, spawnGateway } from '../../helpers/process.js';

const SECRET = 'S3CRET-PW';

/** The quickstart kratos.yml with `patch` merged in at the top level, and a gateway file using it. */
function setup(patch: Record<string, unknown>, gatewayExtra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'kg-kratos-secrets-'));
  const raw = parse(readFileSync(resolve('config/kratos.yml'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'identity.schema.json'), readFileSync(resolve('config/identity.schema.json')));
  writeFileSync(join(dir, 'kratos.yml'), stringify({ ...raw, ...patch }));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `embedded_kratos: { enabled: true, config_file: kratos.yml, dsn: "sqlite://:memory:", public_listen: { port: 0 }, admin_listen: { port: 0 } }\n${gatewayExtra}`,
  );
  return file;
}

test('validate: a PostgreSQL dsn in kratos.yml is refused by key without printing its password', async () => {
  const r = await runCli(['validate', '--config', setup({ dsn: `postgres://kratos:${SECRET}@db:5432/kratos?sslmode=disable` })]);
  assert.equal(r.code, 2);
  assert.ok(!r.stderr.includes(SECRET), r.stderr);
  assert.match(r.stderr, /^config error: .*kratos\.yml: dsn: /m);
});

test('start: a PostgreSQL embedded_kratos.dsn is refused by key without printing its password', async () => {
  const [proxy, admin] = [await freePort(), await freePort()];
  const gw = spawnGateway(['--config', setup({}, `proxy: { listen: { port: ${proxy} } }\nadmin: { listen: { port: ${admin} } }\n`)], {
    KRATOS_GATEWAY_EMBEDDED_KRATOS__DSN: `postgres://kratos:${SECRET}@db:5432/kratos`,
  });
  const code = await gw.exited;
  assert.equal(code, 2, gw.stderr());
  assert.ok(!gw.stderr().includes(SECRET), gw.stderr());
  assert.ok(!gw.stdout().includes(SECRET), gw.stdout());
  assert.match(gw.stderr(), /^config error: .*dsn/m);
});

test('validate: an SMTP URI that cannot be used is a config error naming courier.smtp.connection_uri, without its password', async () => {
  for (const uri of [`smtps://mailer:${SECRET}%zz@mail:465/`, `smtps://mailer:${SECRET}@mail:465:1/`, `ftp://mailer:${SECRET}@mail/`]) {
    const r = await runCli(['validate', '--config', setup({ courier: { smtp: { connection_uri: uri } } })]);
    assert.equal(r.code, 2, `${uri}: ${r.stderr}${r.stdout}`);
    assert.ok(!r.stderr.includes(SECRET), r.stderr);
    assert.match(r.stderr, /^config error: .*kratos\.yml: courier\.smtp\.connection_uri: /m);
  }
  const ok = await runCli([
    'validate',
    '--config',
    setup({ courier: { smtp: { connection_uri: `smtps://mailer:${SECRET}@mail:465/?skip_ssl_verify=true` } } }),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});
