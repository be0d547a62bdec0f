/**
 * Log lines buffered for the 250 ms flush are written when the process exits, also when a
 * second signal cuts the drain short (Ctrl+C twice). Spawns the real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, freePort, listenOnFreePort } from '../../helpers/servers.js';
import { spawnGateway } from '../../helpers/process.js';

for (const signals of [['SIGTERM'], ['SIGINT', 'SIGINT'], ['SIGTERM', 'SIGINT']] as const) {
  test(`the last access line is written when ${signals.join(' then ')} ends the process right after a request`, async () => {
    // `/slow` is never answered: a request in flight holds the drain open, so a second signal
    // arrives while the gateway is still draining.
    let slowArrived!: () => void;
    const slowInFlight = new Promise<void>((resolve) => (slowArrived = resolve));
    const upstream = createServer((req, res) => {
      if (req.url === '/slow') slowArrived();
      else res.end('ok');
    });
    const upstreamUrl = await listenOnFreePort(upstream);
    const [proxy, admin] = [await freePort(), await freePort()];
    const file = join(mkdtempSync(join(tmpdir(), 'kg-exit-flush-')), 'gateway.yaml');
    writeFileSync(
      file,
      `proxy: { listen: { port: ${proxy} }, shutdown_grace_ms: 30000 }\nadmin: { listen: { port: ${admin} } }\nui: { enabled: false }\nroutes:\n  - { name: p, match: { path_prefix: / }, upstream: "${upstreamUrl}", auth: anonymous }\n`,
    );
    const gw = spawnGateway(['--config', file]);
    try {
      await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 30_000);
      const r = await fetch(`http://127.0.0.1:${proxy}/last-one`);
      await r.text();
      const [first, second] = signals;
      if (second !== undefined) {
        fetch(`http://127.0.0.1:${proxy}/slow`).catch(() => {});
        await slowInFlight;
      }
      gw.child.kill(first);
      if (second !== undefined) {
        // Signals of one kind sent back to back can merge into one: send the second once the
        // first has started the drain.
        await gw.waitFor('stdout', (t) => t.includes('"msg":"shutting down"'), 10_000);
        gw.child.kill(second);
      }
      const code = await gw.exited;
      assert.equal(code, second === undefined ? 0 : 1);
      assert.ok(gw.stdout().includes('"path":"/last-one"'), gw.stdout());
      assert.ok(gw.stdout().includes('"msg":"shutting down"'), gw.stdout());
    } finally {
      await gw.stop();
      upstream.closeAllConnections();
      await closeServer(upstream);
    }
  });
}
