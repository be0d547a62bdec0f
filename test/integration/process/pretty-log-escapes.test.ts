/**
 * log.format pretty writes to a developer's terminal. Text from outside that reaches a log line
 * must not reach it as raw control characters: ESC sequences can clear the screen, rewrite
 * earlier lines or set the window title. Spawns the real gateway. The carrier is a key of the
 * embedded identity server's configuration file, which its "unknown key" warning names; the
 * address typed into a recovery form, which used to reach the courier's line, is now refused
 * (it must be one email address, as in Kratos) and reaches no line at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { freePort } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';
import { formatPrettyLine } from '../../../src/log.js';

// Raw C0 and C1 controls, DEL, and bidi overrides.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('pretty lines show control characters from outside escaped (real process: a configuration key in a warning; a recovery form address is refused)', async () => {
  const [proxy, admin, kPublic, kAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'kg-pretty-'));
  const file = join(dir, 'gateway.yaml');
  // ESC, BEL, a C1 CSI and a bidi override in a key name (JSON is YAML).
  const kratos = join(dir, 'kratos.yml');
  writeFileSync(
    kratos,
    JSON.stringify({
      selfservice: { flows: { recovery: { enabled: true } } },
      identity: { default_schema_url: `file://${resolve('config/identity.schema.json')}` },
      '\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil': 1,
    }),
  );
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} }, public_base_url: "http://127.0.0.1:${proxy}" }
admin: { listen: { port: ${admin} } }
log: { format: pretty }
embedded_kratos:
  enabled: true
  config_file: ${kratos}
  public_listen: { port: ${kPublic} }
  admin_listen: { port: ${kAdmin} }
  dsn: "sqlite://:memory:"
`,
  );
  const gw = spawnGateway(['--config', file]);
  let refused: number;
  try {
    await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 60_000);
    const mount = `http://127.0.0.1:${proxy}/.ory/kratos/public`;
    const init = await request(mount + '/self-service/recovery/api', { headers: { accept: 'application/json' } });
    const flow = (await init.body.json()) as { id: string };
    const email = '\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil@example.com';
    const res = await request(`${mount}/self-service/recovery?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'link', email }),
    });
    refused = res.statusCode;
    await res.body.text();
  } finally {
    await gw.stop();
  }
  assert.equal(refused, 400, 'the recovery form refuses an address with control characters');
  assert.ok(!gw.stdout().includes('courier: email'), 'nothing was sent');
  const warning = gw
    .stdout()
    .split('\n')
    .find((l) => l.includes('unknown or unsupported key'));
  assert.ok(warning, gw.stdout());
  assert.ok(!CONTROL.test(gw.stdout()), JSON.stringify(warning));
  assert.ok(warning.includes('\\u001b]0;owned'), warning);
});

test('formatPrettyLine escapes controls in the message, the component and bare values', () => {
  const line = formatPrettyLine(
    JSON.stringify({
      level: 30,
      time: '2026-01-01T00:00:00.000Z',
      component: 'a\u001bb',
      msg: 'm\u001b[2J',
      v: 'x\u009b1m',
      w: 'has space \u202e',
    }),
  );
  assert.ok(!CONTROL.test(line), JSON.stringify(line));
  assert.equal(line, '00:00:00.000 INFO  [a\\u001bb] m\\u001b[2J  v=x\\u009b1m w="has space \\u202e"');
});
