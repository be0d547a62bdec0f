/**
 * A reload the primary applies while a worker is starting (it has its kg:init, its gateway is
 * not up yet) must reach that worker too. The replacement is held in its start deterministically:
 * session_cache.shared.password_file is swapped for a named pipe, which the worker's start-up
 * read blocks on until the test writes the password into it (Redis itself is never reached:
 * nothing here needs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { freshStatuses, logLines, startWorkersGateway, workersSetup, type WorkersSetup } from './helpers.js';

const N = 6;
const password = 'not-a-real-password\n';
// Port 9 (discard): nothing answers; the gateway starts and serves without waiting for Redis.
const shared = { session_cache: { shared: { redis_url: 'redis://127.0.0.1:9', password_file: 'redis.password' } } };
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let setup: WorkersSetup;
let gw: GatewayProcess;
const route = (auth: string) => [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth }];

before(async () => {
  upstream = await startEchoUpstream();
  setup = await workersSetup(2, []);
  writeFileSync(join(setup.dir, 'redis.password'), password);
  setup.write({ routes: route('anonymous'), ...shared });
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  await gw.stop();
  await upstream.close();
  setup.cleanup();
});

/** Child processes of `pid` blocked opening a pipe no one writes to yet. */
function blockedChildren(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/wchan`, 'utf8') === 'wait_for_partner') out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

test('a reload applied while a replacement worker starts reaches it', async () => {
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x'), Array(N).fill(200));
  const file = join(setup.dir, 'redis.password');
  rmSync(file);
  execFileSync('mkfifo', [file]);

  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  process.kill(victim.pid as number, 'SIGKILL');
  let held: number[] = [];
  for (let i = 0; i < 600 && held.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    held = blockedChildren(gw.child.pid!);
  }
  assert.equal(held.length, 1, 'the replacement never reached its start-up read of the password file');

  // Locked down while the replacement has its kg:init but no gateway yet.
  setup.write({ routes: route('required'), ...shared });
  await gw.waitFor('stdout', (t) => logLines(t, 'configuration reloaded').length === 2, 15_000);
  await writeFile(file, password);
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length === 3, 30_000);

  const statuses = await freshStatuses(N, setup.proxy + '/x');
  assert.ok(
    statuses.every((s) => s !== 200),
    `served anonymously after the lock-down: ${statuses.join(',')}`,
  );
});
