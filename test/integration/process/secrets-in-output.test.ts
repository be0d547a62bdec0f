/**
 * Credentials in configuration values never reach the banner or the log. Spawns the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTestGateway } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kg-secrets-')), 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

test('a password in kratos.public_url is in neither the start-up banner nor the "started" log line', async () => {
  const [proxy, admin] = [await freePort(), await freePort()];
  const file = configFile(`proxy: { listen: { port: ${proxy} } }\nadmin: { listen: { port: ${admin} } }\nui: { enabled: false }\n`);
  const gw = spawnGateway(['--config', file], { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://gateway:S3CRET-PW@127.0.0.1:9/' });
  try {
    await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 30_000);
    await gw.waitFor('stdout', (t) => t.includes('kratos-gateway started'), 5_000);
  } finally {
    await gw.stop();
  }
  assert.ok(!gw.stderr().includes('S3CRET-PW'), gw.stderr());
  assert.ok(!gw.stdout().includes('S3CRET-PW'), gw.stdout());
  assert.match(gw.stderr(), /Kratos public +http:\/\/gateway:\*\*\*@127\.0\.0\.1:9\//);
});

test('a password in kratos.public_url is not in the "Kratos gave no answer" warning', async () => {
  const closed = await freePort();
  const gw = await startTestGateway({
    kratos: { public_url: `http://gateway:KRATOS-PASSWORD@127.0.0.1:${closed}` },
    session_cache: { enabled: false },
    routes: [
      { name: 'app', match: { path_prefix: '/' }, upstream: `http://127.0.0.1:${closed}`, auth: 'required', on_unauthenticated: 'json' },
    ],
  });
  try {
    const res = await fetch(`${gw.proxyUrl}/x`, { headers: { 'x-session-token': 'some-token' } });
    await res.arrayBuffer();
    assert.equal(res.status, 503);
    const warning = gw.logLines.find((l) => l.includes('"reason":"connect"'));
    assert.ok(warning, gw.logLines.join('\n'));
    assert.ok(!warning.includes('KRATOS-PASSWORD'), warning);
    assert.match(warning, /"kratos":"http:\/\/gateway:\*\*\*@127\.0\.0\.1:\d+\/?"/);
  } finally {
    await gw.shutdown();
  }
});
