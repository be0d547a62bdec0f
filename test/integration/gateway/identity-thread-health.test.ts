/**
 * The health endpoints and the embedded identity thread: while it runs, ready and alive. A thread
 * that dies is restarted (identity-thread-restart.test.ts); once restarting is given up (here at
 * once, `giveUpAfter: 1`: the crash itself is the one failure allowed), the gateway can no longer
 * authenticate anyone, so readiness fails (send traffic elsewhere) and liveness fails (restart
 * this process). A normal shutdown is not a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type StartOptions } from '../../../src/start-gateway.js';
import { embeddedKratos, freePort, memoryLogger, startEchoUpstream, testConfig } from '../../helpers/servers.js';

async function gatewayWithIdentity(upstream: string, options: Partial<StartOptions> = {}) {
  const port = await freePort();
  const config = testConfig({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: embeddedKratos(),
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' }],
  });
  return startGateway(config, { logger: memoryLogger().logger, ...options });
}

async function health(adminUrl: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(adminUrl + path);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

test('once restarting the identity thread is given up, /health/ready and /health/alive answer 503 identity_server_down', async () => {
  const upstream = await startEchoUpstream();
  let gaveUp = 0;
  const gw = await gatewayWithIdentity(upstream.url, {
    identityRestartPolicy: { initialDelayMs: 100, maxDelayMs: 100, stableAfterMs: 60_000, giveUpAfter: 1 },
    onIdentityGaveUp: () => gaveUp++,
  });
  try {
    assert.equal((await health(gw.adminUrl, '/health/ready')).status, 200);
    assert.equal((await health(gw.adminUrl, '/health/alive')).status, 200);
    const worker = gw.identityWorker!;
    const exited = new Promise((r) => worker.once('exit', r));
    await worker.terminate();
    await exited;
    // Told synchronously with the exit, before anything else could ask.
    assert.equal(gaveUp, 1);
    const ready = await health(gw.adminUrl, '/health/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'identity_server_down');
    const alive = await health(gw.adminUrl, '/health/alive');
    assert.equal(alive.status, 503);
    assert.equal(alive.body.status, 'identity_server_down');
  } finally {
    await gw.shutdown();
    await upstream.close();
  }
});

test('a gateway whose identity thread is running is ready and alive', async () => {
  const upstream = await startEchoUpstream();
  const gw = await gatewayWithIdentity(upstream.url);
  try {
    assert.deepEqual(await health(gw.adminUrl, '/health/ready'), { status: 200, body: { status: 'ok' } });
    assert.deepEqual(await health(gw.adminUrl, '/health/alive'), { status: 200, body: { status: 'ok' } });
  } finally {
    await gw.shutdown();
    await upstream.close();
  }
});
