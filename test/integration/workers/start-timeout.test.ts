/**
 * proxy.worker_start_timeout_ms: a worker stuck in its start is killed, logged and replaced,
 * so the gateway does not stay not-ready for ever.
 *
 * Nothing here races a healthy start against a short limit: the workers start under the default
 * limit, and the short one is applied by a reload (the primary reads it for each worker it
 * starts) only for the replacement that is held. That replacement is held deterministically:
 * session_cache.shared.password_file is a named pipe, which its start-up read blocks on (Redis
 * itself is never reached: nothing here needs it). The limit is raised again before the pipe is
 * written to, and only a replacement started after that is let through.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { fresh, freshStatuses, logLines, startWorkersGateway, workersSetup, type WorkersSetup } from './helpers.js';

const password = 'not-a-real-password\n';
const SHORT_LIMIT_MS = 2_000;
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
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  await gw.stop();
  await upstream.close();
  setup.cleanup();
});

/** The proxy section workersSetup writes, with this start limit (undefined: the default). */
function writeLimit(limitMs: number | undefined): void {
  setup.write({
    proxy: {
      listen: { host: '127.0.0.1', port: setup.proxyPort },
      public_base_url: `http://127.0.0.1:${setup.proxyPort}`,
      workers: 2,
      ...(limitMs !== undefined ? { worker_start_timeout_ms: limitMs } : {}),
    },
  });
}

/** Every JSON log line, in order. */
function lines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The primary's reload (a worker's line carries its `worker` id). */
const primaryReload = (o: Record<string, unknown>) => o.msg === 'configuration reloaded' && o.worker === undefined;

/** Applies the file as written now (the file watcher or SIGHUP, whichever comes first); waits for the primary's `n`th applied reload. */
async function reloaded(n: number): Promise<void> {
  gw.child.kill('SIGHUP');
  await gw.waitFor('stdout', (t) => lines(t).filter(primaryReload).length >= n, 30_000);
}

test('a replacement stuck in its start is killed after worker_start_timeout_ms and replaced; the gateway is ready again', async () => {
  assert.deepEqual(await freshStatuses(4, setup.proxy + '/x'), [200, 200, 200, 200]);
  writeLimit(SHORT_LIMIT_MS);
  await reloaded(1);
  const file = join(setup.dir, 'redis.password');
  rmSync(file);
  execFileSync('mkfifo', [file]);

  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  process.kill(victim.pid as number, 'SIGKILL');
  // The replacement is started (under the short limit) right after this line.
  await gw.waitFor('stdout', (t) => logLines(t, 'worker exited unexpectedly; starting a replacement').length >= 1, 60_000);
  writeLimit(undefined);
  await reloaded(2);

  // The replacement blocks on the pipe: killed once its limit passes.
  const out = await gw.waitFor('stdout', (t) => logLines(t, 'worker did not start in time; killing it').length >= 1, 60_000);
  const line = logLines(out, 'worker did not start in time; killing it')[0]!;
  assert.equal(line.timeout_ms, SHORT_LIMIT_MS);
  assert.equal(line.level, 50);
  assert.equal((await fresh(setup.admin + '/health/ready')).status, 503, 'not ready while a worker is missing');

  // A replacement started after the limit was raised again (it too waits on the pipe) …
  await gw.waitFor(
    'stdout',
    (t) => {
      const all = lines(t);
      const raised = all.findLastIndex(primaryReload);
      return all.findLastIndex((o) => o.msg === 'worker exited unexpectedly; starting a replacement') > raised;
    },
    60_000,
  );
  // … is let through: writing the password into the pipe ends its read.
  await writeFile(file, password);
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length >= 3, 60_000);
  let ready = 0;
  for (let i = 0; i < 600 && ready !== 200; i++) {
    ready = (await fresh(setup.admin + '/health/ready')).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(ready, 200);
  assert.deepEqual(await freshStatuses(4, setup.proxy + '/x'), [200, 200, 200, 200]);
  assert.equal(gw.child.exitCode, null, 'the gateway kept running');
});
