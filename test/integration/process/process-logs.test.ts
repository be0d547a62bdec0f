/**
 * Logs: what an operator sees on the stdout of a real gateway process. The
 * quickstart shape (embedded identity server, demo upstream, UI) on free ports.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../helpers/servers.js';
import { duplicateJsonKeys, spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { LOG_FLUSH_INTERVAL_MS } from '../../../src/log.js';

/** How long to wait for a log line: 120 flush intervals, generous for a loaded machine. */
const LINE_WAIT_MS = LOG_FLUSH_INTERVAL_MS * 120;

let gw: GatewayProcess;
let proxyUrl: string;

const requestLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

before(async () => {
  const [proxy, admin, kPublic, kAdmin, demo] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  proxyUrl = `http://127.0.0.1:${proxy}`;
  const dir = mkdtempSync(join(tmpdir(), 'kg-logs-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} }, public_base_url: ${proxyUrl} }
admin: { listen: { port: ${admin} } }
embedded_kratos:
  enabled: true
  config_file: ${resolve('config/kratos.yml')}
  public_listen: { port: ${kPublic} }
  admin_listen: { port: ${kAdmin} }
  dsn: "sqlite://:memory:"
demo_upstream: { enabled: true, listen: { port: ${demo} } }
routes:
  - { name: public, match: { path_prefix: /public }, upstream: "http://127.0.0.1:${demo}", auth: anonymous, strip_prefix: /public }
`,
  );
  gw = spawnGateway(['--config', file]);
  await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 60_000);
});
after(() => gw.stop());

test('the access line of a single request is flushed on the interval, not held until 4 KiB of lines', async () => {
  const before = requestLines(gw.stdout()).length;
  const r = await fetch(proxyUrl + '/public/echo/first?token=QUERY-SECRET');
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  // Generous bound for a loaded machine; before the fix the line never came while the buffer was
  // short of 4 KiB (nothing else is logged meanwhile), so the wait itself is what fails.
  await gw.waitFor('stdout', (t) => requestLines(t).length > before, LINE_WAIT_MS);
  const line = requestLines(gw.stdout()).at(-1)!;
  assert.equal(line.path, '/public/echo/first', 'canonical path, without the query string');
  assert.ok(!gw.stdout().includes('QUERY-SECRET'), 'the query string is never logged');
  assert.equal(line.status, 200);
  assert.equal(typeof line.upstream_ms, 'number');
  assert.ok(
    (line.upstream_ms as number) <= (line.ms as number),
    `upstream ${String(line.upstream_ms)} ms within total ${String(line.ms)} ms`,
  );
});

test('POST requests name the client, on the data plane and on the control plane (UI, Kratos mount)', async () => {
  const before = requestLines(gw.stdout()).length;
  for (const path of ['/public/echo/posted', '/ui/login', '/.ory/kratos/public/self-service/login/methods/password?flow=nope']) {
    const r = await fetch(proxyUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'identifier=a&password=POST-SECRET',
      redirect: 'manual',
    });
    await r.arrayBuffer();
  }
  await gw.waitFor('stdout', (t) => requestLines(t).length >= before + 3, LINE_WAIT_MS);
  const lines = requestLines(gw.stdout()).slice(before);
  assert.deepEqual(
    lines.map((l) => [l.method, l.route, l.path, l.client]),
    [
      ['POST', 'public', '/public/echo/posted', '127.0.0.1'],
      ['POST', 'control', '/ui/login', '127.0.0.1'],
      ['POST', 'control', '/.ory/kratos/public/self-service/login/methods/password', '127.0.0.1'],
    ],
  );
  assert.ok(!gw.stdout().includes('POST-SECRET'));
});

test('every line is JSON with each key once: one component per line (identity server, demo upstream)', async () => {
  const lines = gw.stdout().split('\n').filter(Boolean);
  const components = new Set<unknown>();
  for (const line of lines) {
    assert.deepEqual(duplicateJsonKeys(line), [], `duplicate keys in ${line}`);
    components.add((JSON.parse(line) as Record<string, unknown>).component);
  }
  assert.ok(components.has('identity'), `identity server lines: ${[...components].join(',')}`);
  assert.ok(components.has('demo-upstream'), `demo upstream lines: ${[...components].join(',')}`);
});

test('the duplicate-key check itself sees a repeated key in raw text', () => {
  assert.deepEqual(duplicateJsonKeys('{"component":"demo","a":{"component":"x"},"component":"demo-upstream"}'), ['component']);
  assert.deepEqual(duplicateJsonKeys('{"a":"\\"b\\":","b":[{"a":1},{"a":2}]}'), []);
});
