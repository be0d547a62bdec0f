/** The gateway process reloads its configuration file on SIGHUP. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { spawnGateway } from '../../helpers/process.js';
import { freePort, startEchoUpstream } from '../../helpers/servers.js';

test('SIGHUP: the changed file is validated and applied, with its hash in the log line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-sighup-'));
  const file = join(dir, 'gateway.yaml');
  const upstream = await startEchoUpstream();
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const write = (prefixes: string[]) =>
    writeFileSync(
      file,
      stringify({
        proxy: { listen: { port: proxyPort } },
        admin: { listen: { port: adminPort } },
        ui: { enabled: false },
        kratos: { public_url: 'http://127.0.0.1:9' },
        routes: prefixes.map((p) => ({ name: p.slice(1), match: { path_prefix: p }, upstream: upstream.url, auth: 'anonymous' })),
      }),
    );
  write(['/a']);
  const gw = spawnGateway(['--config', file]);
  after(async () => {
    await gw.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await gw.waitFor('stdout', (t) => t.includes('kratos-gateway started'), 15_000);
  const status = async (path: string) => {
    const res = await request(`http://127.0.0.1:${proxyPort}${path}`);
    await res.body.text();
    return res.statusCode;
  };
  assert.equal(await status('/b/x'), 404);
  write(['/a', '/b']);
  gw.child.kill('SIGHUP');
  const out = await gw.waitFor('stdout', (t) => t.includes('configuration reloaded'), 10_000);
  const line = JSON.parse(out.split('\n').find((l) => l.includes('configuration reloaded'))!);
  assert.match(line.config_hash, /^[0-9a-f]{12}$/);
  assert.equal(await status('/b/x'), 200);
  assert.equal(await status('/a/x'), 200);
});
