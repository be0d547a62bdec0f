/**
 * Why Kratos gave no answer is logged at warn, once per reason per 10 s, with the
 * network error code or Kratos's status, and never the credential.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { freePort, startStack } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';
import { createLogger, ThrottledWarnings } from '../../../src/log.js';

const warnLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.includes('"level":40') && l.includes('Kratos'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('a real gateway process with Kratos on a closed port logs ECONNREFUSED once at warn, not once per request', async () => {
  const [proxy, admin, closed] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'kg-kratos-down-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} } }
admin: { listen: { port: ${admin} } }
kratos: { public_url: "http://127.0.0.1:${closed}" }
ui: { enabled: false }
session_cache: { enabled: false }
routes:
  - { name: app, match: { path_prefix: / }, upstream: "http://127.0.0.1:${closed}", auth: required, on_unauthenticated: json }
`,
  );
  const gw = spawnGateway(['--config', file]);
  try {
    await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 30_000);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`http://127.0.0.1:${proxy}/x`, {
        headers: { 'x-session-token': `TOKEN-SECRET-${i}`, cookie: 'ory_kratos_session=COOKIE-SECRET' },
      });
      assert.equal(r.status, 503);
      await r.arrayBuffer();
    }
    await gw.waitFor('stdout', (t) => t.split('\n').filter((l) => l.includes('"status":503')).length >= 5, 5_000);
    const warns = warnLines(gw.stdout());
    assert.equal(warns.length, 1, `one line for five identical failures:\n${gw.stdout()}`);
    assert.equal(warns[0]!.reason, 'connect');
    assert.equal(warns[0]!.code, 'ECONNREFUSED');
    assert.equal(warns[0]!.kratos, `http://127.0.0.1:${closed}`);
    assert.match(String(warns[0]!.msg), /ECONNREFUSED/);
    assert.ok(!gw.stdout().includes('SECRET'), 'no credential in the output');
  } finally {
    await gw.stop();
  }
});

test('a Kratos answering 500 is logged with its status; a different reason gets its own line', async () => {
  const { kratos, gw, close } = await startStack((u) => ({
    session_cache: { enabled: false },
    // Generous: a 500 answered at once on a busy machine must not be logged as a timeout.
    kratos: { public_url: u.kratos, whoami_timeout_ms: 2_000 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'json' }],
  }));
  try {
    const { token } = kratos.addSession();
    kratos.state.fault = { kind: 'status', status: 500 };
    for (let i = 0; i < 3; i++) await (await fetch(gw.proxyUrl + '/a', { headers: { 'x-session-token': token } })).arrayBuffer();
    kratos.state.fault = { kind: 'hang' };
    for (let i = 0; i < 2; i++) await (await fetch(gw.proxyUrl + '/a', { headers: { 'x-session-token': token } })).arrayBuffer();
    const warns = warnLines(gw.logLines.join('\n'));
    assert.deepEqual(
      warns.map((w) => [w.reason, w.kratos_status, w.msg]),
      [
        ['bad_status', 500, 'Kratos whoami answered 500'],
        ['timeout', undefined, 'Kratos whoami did not answer within 2000 ms'],
      ],
    );
    assert.ok(!gw.logLines.join('\n').includes(token));
  } finally {
    await close();
  }
});

test('after the interval the next line carries how many were suppressed', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  let now = 1_000_000;
  const w = new ThrottledWarnings(createLogger('info', sink), 10_000, () => now);
  w.warn('a', { reason: 'a' }, 'A failed');
  for (let i = 0; i < 4; i++) w.warn('a', { reason: 'a' }, 'A failed');
  w.warn('b', { reason: 'b' }, 'B failed');
  now += 9_999;
  w.warn('a', { reason: 'a' }, 'A failed');
  now += 1;
  w.warn('a', { reason: 'a' }, 'A failed');
  w.warn('a', { reason: 'a' }, 'A failed');
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    parsed.map((p) => [p.msg, p.suppressed]),
    [
      ['A failed', undefined],
      ['B failed', undefined],
      ['A failed', 5],
    ],
  );
});
