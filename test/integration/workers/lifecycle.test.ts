/**
 * proxy.workers start-up and supervision, without the identity server: `auto`
 * starts one worker per available CPU and `1` forks nothing; a worker's start-up failure gives
 * the single process's message and exit code, once; workers that keep failing end the gateway
 * with a fatal line and exit 1 instead of being replaced forever.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnGateway } from '../../helpers/process.js';
import { closeServer, freePort, listenOnFreePort, startEchoUpstream } from '../../helpers/servers.js';
import { fresh, logLines } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function gatewayFile(
  workers: number | 'auto',
  extra: Record<string, unknown> = {},
): Promise<{ file: string; dir: string; proxyPort: number; adminPort: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-workers-life-'));
  dirs.push(dir);
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { host: '127.0.0.1', port: proxyPort }, workers },
      admin: { listen: { host: '127.0.0.1', port: adminPort } },
      ui: { enabled: false },
      kratos: { public_url: 'http://127.0.0.1:9' },
      routes: [{ name: 'open', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'anonymous' }],
      ...extra,
    }),
  );
  return { file, dir, proxyPort, adminPort };
}

test('workers: auto starts one worker per available CPU; workers: 1 forks nothing', async () => {
  const auto = await gatewayFile('auto');
  const gw = spawnGateway(['--config', auto.file]);
  try {
    await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
    const expected = availableParallelism();
    assert.equal(logLines(gw.stdout(), 'worker started').length, expected > 1 ? expected : 0);
    if (expected > 1) assert.equal(logLines(gw.stdout(), 'kratos-gateway started')[0]!.workers, expected);
    assert.equal((await fresh(`http://127.0.0.1:${auto.adminPort}/health/ready`)).status, 200);
  } finally {
    assert.equal(await gw.stop(), 0);
  }

  const one = await gatewayFile(1);
  const single = spawnGateway(['--config', one.file]);
  try {
    await single.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 30_000);
    assert.equal(logLines(single.stdout(), 'worker started').length, 0);
    assert.equal(logLines(single.stdout(), 'kratos-gateway started')[0]!.workers, undefined);
    assert.ok(!(await fresh(`http://127.0.0.1:${one.adminPort}/metrics`)).body.includes('kratos_gateway_workers'));
  } finally {
    assert.equal(await single.stop(), 0);
  }
});

test('a taken proxy port: the same message and exit code as a single process, printed once', async () => {
  const squatter = createServer();
  const port = await freePort();
  await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
  try {
    const results = [];
    for (const workers of [1, 2]) {
      const g = await gatewayFile(workers, { proxy: { listen: { host: '127.0.0.1', port }, workers } });
      const p = spawnGateway(['--config', g.file]);
      results.push({ code: await p.exited, stderr: p.stderr() });
    }
    const message = `kratos-gateway: proxy.listen: 127.0.0.1:${port} is already in use (choose another port in the configuration)\n`;
    for (const r of results) {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, message);
    }
  } finally {
    await closeServer(squatter);
  }
});

test('replacements that keep failing: a fatal line and exit 1, not a restart loop', async () => {
  const upstream = await startEchoUpstream();
  // Redis itself is never reached (port 9): only the password file matters here.
  const g = await gatewayFile(2, {
    session_cache: { shared: { redis_url: 'redis://127.0.0.1:9', password_file: 'redis.password' } },
    routes: [{ name: 'open', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }],
  });
  writeFileSync(join(g.dir, 'redis.password'), 'secret\n');
  const gw = spawnGateway(['--config', g.file]);
  try {
    await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
    // Every replacement reads the password file as a restart would, and now fails on it (exit 2).
    // (Not the assertion key file: workers take the primary's keys.)
    writeFileSync(join(g.dir, 'redis.password'), '');
    process.kill(logLines(gw.stdout(), 'worker started')[0]!.pid as number, 'SIGKILL');
    // Five replacements in a row fail: the gateway gives up however long each takes to fail.
    const code = await Promise.race([gw.exited, new Promise((r) => setTimeout(() => r('still running'), 300_000).unref())]);
    assert.equal(code, 1, gw.stdout());
    const replaced = logLines(gw.stdout(), 'worker exited unexpectedly; starting a replacement');
    assert.equal(replaced.length, 5);
    assert.match(String(replaced[1]!.error), /^config error: session_cache\.shared\.password_file: /);
    assert.equal(replaced[1]!.exit_code, 2);
    const fatal = gw
      .stdout()
      .split('\n')
      .filter((l) => l.includes('workers keep exiting'));
    assert.equal(fatal.length, 1);
    assert.equal(JSON.parse(fatal[0]!).level, 60);
    // The worker still serving was stopped with the primary: nothing of the gateway listens.
    await assert.rejects(fresh(`http://127.0.0.1:${g.proxyPort}/`));
  } finally {
    await gw.stop();
    await upstream.close();
  }
});

test('a second signal during the drain ends the primary and every worker at once, exit 1', async () => {
  // An upstream that never answers: the request below holds the drain open for as long as the
  // grace period (far longer than the test), so the gateway ending at all shows it did not wait.
  const held = createServer();
  const arrived = new Promise<void>((r) => held.once('request', () => r()));
  const upstreamUrl = await listenOnFreePort(held);
  const proxyPort = await freePort();
  const g = await gatewayFile(2, {
    proxy: { listen: { host: '127.0.0.1', port: proxyPort }, workers: 2, shutdown_grace_ms: 600_000 },
    routes: [{ name: 'open', match: { path_prefix: '/' }, upstream: upstreamUrl, auth: 'anonymous' }],
  });
  const gw = spawnGateway(['--config', g.file]);
  try {
    await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
    const pids = logLines(gw.stdout(), 'worker started').map((l) => l.pid as number);
    const inFlight = fresh(`http://127.0.0.1:${proxyPort}/held`).catch((err: Error) => err);
    await arrived;
    gw.child.kill('SIGTERM');
    await gw.waitFor('stdout', (t) => logLines(t, 'worker draining').length === 2, 60_000);
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 1);
    assert.ok((await inFlight) instanceof Error, 'the request in flight was cut, not drained');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Bounded far below the grace period: a worker still draining would outlive it.
    const deadline = Date.now() + 60_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pids.filter(alive), []);
  } finally {
    await gw.stop();
    held.closeAllConnections();
    await closeServer(held);
  }
});
