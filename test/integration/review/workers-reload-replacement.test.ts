/**
 * One process tree (proxy.workers: 2): a worker that replaces a crashed one must serve the
 * configuration the primary applied, not whatever the file holds when it starts. An operator
 * locks a route down by a reload (anonymous → required), then saves a broken file (rejected:
 * the locked-down configuration stays); a worker crashes, and its replacement must not serve
 * the route anonymously. Last, the primary killed outright takes every worker with it (a
 * worker left alone would miss every purge).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { freshStatuses, logLines, startWorkersGateway, workersSetup, type WorkersSetup } from '../workers/helpers.js';

const N = 6;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let setup: WorkersSetup;
let gw: GatewayProcess;

before(async () => {
  upstream = await startEchoUpstream();
  setup = await workersSetup(2, [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }]);
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  if (gw.child.exitCode === null && gw.child.signalCode === null) await gw.stop();
  await upstream.close();
  setup.cleanup();
});

test('a replacement worker serves the configuration the primary applied, even after a rejected edit of the file', async () => {
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x'), Array(N).fill(200));
  setup.write({ routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }] });
  await gw.waitFor('stdout', (t) => logLines(t, 'configuration reloaded').length === 3, 15_000);
  const locked = await freshStatuses(N, setup.proxy + '/x');
  assert.ok(
    locked.every((s) => s !== 200),
    `served anonymously after the lock-down: ${locked.join(',')}`,
  );

  writeFileSync(setup.file, 'proxy: [this is not a gateway configuration\n');
  await gw.waitFor('stdout', (t) => t.includes('configuration reload rejected; the running configuration is kept'), 15_000);

  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  process.kill(victim.pid as number, 'SIGKILL');
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length === 3, 60_000);
  const after = await freshStatuses(N, setup.proxy + '/x');
  assert.deepEqual(after, locked, 'the replacement serves a configuration the primary no longer runs');
});

test('the primary killed with SIGKILL: every worker exits too', async () => {
  const pids = logLines(gw.stdout(), 'worker started').map((l) => l.pid as number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  gw.child.kill('SIGKILL');
  await gw.exited;
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(pids.filter(alive), []);
});
