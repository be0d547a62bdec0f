/**
 * The cluster primary (src/cluster/primary.ts) run in this process, with fake workers
 * (fake-worker.ts) that speak the IPC protocol at chosen moments: what a worker sends must
 * never crash the primary, and /metrics counters must never go down when a worker exits
 * during a scrape.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log.js';
import { startCluster, type RunningCluster } from '../../../src/cluster/primary.js';
import { freePort } from '../../helpers/servers.js';
import { fresh, metric } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kgw-review-ipc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let lastId = 0;
cluster.on('fork', (w) => (lastId = Math.max(lastId, w.id)));
cluster.setupPrimary({ exec: fileURLToPath(new URL('./fake-worker.ts', import.meta.url)), silent: true });

const crashes: unknown[] = [];
process.on('uncaughtException', (err) => crashes.push(err));

async function primary(mode: string): Promise<{ c: RunningCluster; admin: string; exits: number[] }> {
  const adminPort = await freePort();
  const file = join(dir, `${mode}.yaml`);
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { host: '127.0.0.1', port: await freePort() }, workers: 2 },
      admin: { listen: { host: '127.0.0.1', port: adminPort } },
      ui: { enabled: false },
      kratos: { public_url: 'http://127.0.0.1:9' },
      routes: [{ name: 'open', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'anonymous' }],
    }),
  );
  process.env.REVIEW_FAKE_MODE = mode;
  process.env.REVIEW_FAKE_BASE = String(lastId);
  const loaded = loadConfigFile(file);
  const exits: number[] = [];
  const c = await startCluster({
    config: loaded.config,
    workers: 2,
    logger: createLogger('silent'),
    baseDir: loaded.baseDir,
    configFile: loaded.path,
    exit: (code) => exits.push(code),
  });
  return { c, admin: `http://127.0.0.1:${adminPort}`, exits };
}

test('malformed messages from a worker are dropped: the primary neither crashes nor relays them', async () => {
  const { c, admin, exits } = await primary('malformed');
  try {
    // The fake sent its malformed messages before kg:listening: they have all been handled.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      crashes.map((e) => (e as Error).message),
      [],
    );
    assert.equal(c.proxyUrl, 'http://127.0.0.1:1');
    assert.equal((await fresh(admin + '/health/ready')).status, 200);
    assert.deepEqual(exits, []);
  } finally {
    await c.shutdown();
  }
});

test('a worker that exits while a scrape waits for another is not counted twice, and no counter goes down', async () => {
  const { c, admin } = await primary('metrics');
  try {
    // Worker 1 answers at once and exits; worker 2 answers 500 ms later.
    const first = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
    assert.equal(first, 10);
    // The replacement (counting 0) listens within a bounded wait.
    for (let i = 0; i < 100 && (await fresh(admin + '/health/ready')).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    const second = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
    assert.ok(second >= first, `review_fake_total went from ${first} down to ${second}`);
    assert.equal(second, 10);
  } finally {
    await c.shutdown();
  }
});

test('a worker too busy to answer a scrape in time still counts what it had counted: no counter goes down', async () => {
  const { c, admin } = await primary('slow');
  try {
    const first = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
    assert.equal(first, 10);
    // Worker 1 now answers after 3 s, past the primary's 2 s wait.
    const second = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
    assert.ok(second >= first, `review_fake_total went from ${first} down to ${second}`);
  } finally {
    await c.shutdown();
  }
});

test('while the workers drain, /metrics still counts what they had counted: no counter goes down', async () => {
  const { c, admin } = await primary('draining');
  const first = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
  assert.equal(first, 10);
  const stopped = c.shutdown();
  try {
    const during = metric(await (await fetch(admin + '/metrics')).text(), 'review_fake_total');
    assert.ok(during >= first, `review_fake_total went from ${first} down to ${during} during the drain`);
  } finally {
    await stopped;
  }
});
