/**
 * Log lines buffered for the 250 ms flush are written when the process exits, also when a
 * second signal cuts the drain short (Ctrl+C twice). Spawns the real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEchoUpstream } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';

for (const signals of [['SIGTERM'], ['SIGINT', 'SIGINT'], ['SIGTERM', 'SIGINT']] as const) {
  test(`the last access line is written when ${signals.join(' then ')} ends the process right after a request`, async () => {
    const up = await startEchoUpstream();
    const [proxy, admin] = [await freePort(), await freePort()];
    const file = join(mkdtempSync(join(tmpdir(), 'kg-exit-flush-')), 'gateway.yaml');
    writeFileSync(
      file,
      `proxy: { listen: { port: ${proxy} }, shutdown_grace_ms: 5000 }\nadmin: { listen: { port: ${admin} } }\nui: { enabled: false }\nroutes:\n  - { name: p, match: { path_prefix: / }, upstream: "${up.url}", auth: anonymous }\n`,
    );
    const gw = spawnGateway(['--config', file]);
    try {
      await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 30_000);
      // A kept-alive connection holds the drain open, as a browser does.
      const r = await fetch(`http://127.0.0.1:${proxy}/last-one`);
      await r.text();
      for (const s of signals) gw.child.kill(s);
      const code = await gw.exited;
      assert.equal(code, signals.length === 1 ? 0 : 1);
      assert.ok(gw.stdout().includes('"path":"/last-one"'), gw.stdout());
      assert.ok(gw.stdout().includes('"msg":"shutting down"'), gw.stdout());
    } finally {
      await gw.stop();
      await up.close();
    }
  });
}
