/**
 * log.format pretty writes to a developer's terminal. Request data that reaches a log line
 * (here the address typed into a recovery form, which the courier logs when no SMTP server is
 * configured) must not reach it as raw control characters: ESC sequences can clear the
 * screen, rewrite earlier lines or set the window title. Spawns the real gateway.
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

test('pretty lines show control characters from request data escaped (real process, recovery email in the courier line)', async () => {
  const [proxy, admin, kPublic, kAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'kg-pretty-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} }, public_base_url: "http://127.0.0.1:${proxy}" }
admin: { listen: { port: ${admin} } }
log: { format: pretty }
embedded_kratos:
  enabled: true
  config_file: ${resolve('config/kratos.yml')}
  public_listen: { port: ${kPublic} }
  admin_listen: { port: ${kAdmin} }
  dsn: "sqlite://:memory:"
`,
  );
  const gw = spawnGateway(['--config', file]);
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
    await res.body.text();
    await gw.waitFor('stdout', (t) => t.includes('courier: email'), 5_000);
  } finally {
    await gw.stop();
  }
  const courier = gw
    .stdout()
    .split('\n')
    .find((l) => l.includes('courier: email'))!;
  assert.ok(!CONTROL.test(gw.stdout()), JSON.stringify(courier));
  assert.ok(courier.includes('\\u001b]0;owned'), courier);
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
