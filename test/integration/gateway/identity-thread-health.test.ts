/**
 * A dead embedded identity thread is reported by the health endpoints: the gateway can no
 * longer authenticate anyone and nothing restarts the thread in-process, so readiness fails
 * (send traffic elsewhere) and liveness fails (restart this process). A normal shutdown is
 * not a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { request } from 'undici';
import { freePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

async function gatewayWithIdentity(upstream: string) {
  const port = await freePort();
  return startTestGateway({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: {
      enabled: true,
      config_file: resolve('config/kratos.yml'),
      dsn: ':memory:',
      public_listen: { port: 0 },
      admin_listen: { port: 0 },
    },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' }],
  });
}

async function health(adminUrl: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(adminUrl + path);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

test('after the identity thread dies, /health/ready and /health/alive answer 503 identity_server_down', async () => {
  const upstream = await startEchoUpstream();
  const gw = await gatewayWithIdentity(upstream.url);
  try {
    assert.equal((await health(gw.adminUrl, '/health/ready')).status, 200);
    assert.equal((await health(gw.adminUrl, '/health/alive')).status, 200);
    const worker = gw.identityWorker!;
    const exited = new Promise((r) => worker.once('exit', r));
    await worker.terminate();
    await exited;
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
