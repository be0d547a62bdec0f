/**
 * proxy.worker_start_timeout_ms: a worker stuck in its start is killed, logged and replaced,
 * so the gateway does not stay not-ready for ever. The replacement is held in its start
 * deterministically: session_cache.shared.password_file is swapped for a named pipe, which its
 * start-up read blocks on (Redis itself is never reached: nothing here needs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { fresh, freshStatuses, logLines, startWorkersGateway, workersSetup, type WorkersSetup } from './helpers.js';

const password = 'not-a-real-password\n';
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let setup: WorkersSetup;
let gw: GatewayProcess;

before(async () => {
  upstream = await startEchoUpstream();
  const routes = [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }];
  setup = await workersSetup(2, routes, {
    // Port 9 (discard): nothing answers; the gateway starts and serves without waiting for Redis.
    session_cache: { shared: { redis_url: 'redis://127.0.0.1:9', password_file: 'redis.password' } },
  });
  writeFileSync(join(setup.dir, 'redis.password'), password);
  setup.write({ proxy: { ...readProxy(), worker_start_timeout_ms: 2_000 } });
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  await gw.stop();
  await upstream.close();
  setup.cleanup();
});

/** The proxy section workersSetup wrote (listen, public_base_url, workers), to extend it. */
function readProxy(): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: setup.proxyPort },
    public_base_url: `http://127.0.0.1:${setup.proxyPort}`,
    workers: 2,
  };
}

test('a replacement stuck in its start is killed after worker_start_timeout_ms and replaced; the gateway is ready again', async () => {
  assert.deepEqual(await freshStatuses(4, setup.proxy + '/x'), [200, 200, 200, 200]);
  const file = join(setup.dir, 'redis.password');
  rmSync(file);
  execFileSync('mkfifo', [file]);

  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  process.kill(victim.pid as number, 'SIGKILL');
  // The replacement blocks on the pipe: killed once the limit passes.
  const out = await gw.waitFor('stdout', (t) => logLines(t, 'worker did not start in time; killing it').length >= 1, 30_000);
  const line = logLines(out, 'worker did not start in time; killing it')[0]!;
  assert.equal(line.timeout_ms, 2_000);
  assert.equal((await fresh(setup.admin + '/health/ready')).status, 503, 'not ready while a worker is missing');

  // The password file readable again: the next replacement starts and the gateway is ready.
  rmSync(file);
  writeFileSync(file, password);
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length >= 3, 30_000);
  let ready = 0;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    ready = (await fresh(setup.admin + '/health/ready')).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(ready, 200);
  assert.deepEqual(await freshStatuses(4, setup.proxy + '/x'), [200, 200, 200, 200]);
  assert.equal(gw.child.exitCode, null, 'the gateway kept running');
});
