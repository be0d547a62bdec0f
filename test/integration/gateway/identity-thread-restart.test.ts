/**
 * A crashed embedded identity thread is restarted with backoff, on the same SQLite file: the
 * gateway fails closed while it is down (readiness 503, session routes 503) but stays alive, and
 * what was stored before the crash (a session) is served again after it. The thread is ended for
 * real, through the running gateway's handle on it; a restart is held back for real too, by
 * making the database's folder unusable until the test puts it back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { startGateway, type StartOptions } from '../../../src/start-gateway.js';
import { freePort, memoryLogger, startEchoUpstream, testConfig } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
const MOUNT = '/.ory/kratos/public';

async function gatewayOnFile(upstream: string, dir: string, options: Partial<StartOptions> = {}) {
  const port = await freePort();
  const { logger, lines } = memoryLogger();
  const config = testConfig({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: {
      enabled: true,
      config_file: resolve('config/kratos.yml'),
      dsn: `sqlite://${join(dir, 'data', 'kratos.sqlite')}`,
      public_listen: { port: 0 },
      admin_listen: { port: 0 },
    },
    routes: [
      { name: 'public', match: { path_prefix: '/public' }, upstream, auth: 'anonymous' },
      { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' },
    ],
  });
  const gw = await startGateway(config, { logger, ...options });
  return Object.assign(gw, { logLines: lines });
}
type Gateway = Awaited<ReturnType<typeof gatewayOnFile>>;

async function register(gw: Gateway, email: string): Promise<string> {
  const init = await request(`${gw.proxyUrl}${MOUNT}/self-service/registration/api`, { headers: { accept: 'application/json' } });
  const flow = (await init.body.json()) as { id: string };
  const res = await request(`${gw.proxyUrl}${MOUNT}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ method: 'password', password: 'correct horse battery staple 9', traits: { email } }),
  });
  const body = (await res.body.json()) as { session_token?: string };
  assert.equal(res.statusCode, 200, JSON.stringify(body).slice(0, 300));
  return body.session_token!;
}

async function health(gw: Gateway, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(gw.adminUrl + path);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function withToken(gw: Gateway, token: string): Promise<number> {
  const res = await request(gw.proxyUrl + '/app', { headers: { 'x-session-token': token, accept: 'application/json' } });
  await res.body.dump();
  return res.statusCode;
}

/** Log lines with this `msg`, parsed. */
function logged(gw: Gateway, msg: string): Array<Record<string, unknown>> {
  return gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

/** Waits (generously bounded) until `condition` holds; fails with `what` otherwise. */
async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Puts a file where the database's folder was: a restarted thread cannot open the database. Returns the undo. */
function holdDatabase(dir: string): () => void {
  const data = join(dir, 'data');
  renameSync(data, data + '.away');
  writeFileSync(data, '');
  return () => {
    rmSync(data);
    renameSync(data + '.away', data);
  };
}

/** Ends the identity thread for real and waits for it to be gone. */
async function crash(gw: Gateway): Promise<number> {
  const worker = gw.identityWorker!;
  const exited = new Promise<number>((r) => worker.once('exit', r));
  await worker.terminate();
  await exited;
  return worker.threadId;
}

describe('a crashed identity thread', () => {
  let upstream: Echo;
  let dir: string;
  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(() => upstream.close());

  test('is restarted on the same database: a session created before the crash resolves after it; liveness stays 200', async () => {
    dir = mkdtempSync(join(tmpdir(), 'identity-restart-'));
    const gw = await gatewayOnFile(upstream.url, dir);
    try {
      // Registered, never presented: only the identity server can answer for it, not the cache.
      const token = await register(gw, 'before-crash@example.com');
      const crashed = await crash(gw);
      assert.equal((await health(gw, '/health/alive')).status, 200, 'alive while the thread is restarted');

      await until('the thread is restarted', () => logged(gw, 'identity server thread restarted').length === 1);
      assert.notEqual(gw.identityWorker?.threadId, crashed, 'a new thread');
      assert.deepEqual(await health(gw, '/health/ready'), { status: 200, body: { status: 'ok' } });
      assert.equal(await withToken(gw, token), 200, 'the session from before the crash is served');
      const crashLine = logged(gw, 'identity server thread exited unexpectedly; restarting it');
      assert.equal(crashLine.length, 1);
      assert.equal(crashLine[0]!.level, 50);
      const metrics = await request(gw.adminUrl + '/metrics');
      assert.match(await metrics.body.text(), /^kratos_gateway_identity_restarts_total 1$/m);
    } finally {
      await gw.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('that cannot be restarted yet: readiness 503 and session routes 503, liveness 200; back once its database is', async () => {
    dir = mkdtempSync(join(tmpdir(), 'identity-restart-'));
    const gw = await gatewayOnFile(upstream.url, dir);
    try {
      const token = await register(gw, 'held@example.com');
      const release = holdDatabase(dir);
      await crash(gw);
      await until('a restart failed', () => logged(gw, 'identity server thread failed to restart; retrying').length >= 1);

      const ready = await health(gw, '/health/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'identity_server_restarting');
      assert.deepEqual(await health(gw, '/health/alive'), { status: 200, body: { status: 'ok' } });
      assert.equal(await withToken(gw, token), 503, 'fails closed while the identity server is down');
      const anonymous = await request(gw.proxyUrl + '/public/hello');
      await anonymous.body.dump();
      assert.equal(anonymous.statusCode, 200, 'routes that need no session still answer');

      release();
      await until('the thread is restarted', () => logged(gw, 'identity server thread restarted').length === 1);
      assert.equal((await health(gw, '/health/ready')).status, 200);
      assert.equal(await withToken(gw, token), 200, 'the same database: the session is still there');
    } finally {
      await gw.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('restarts that keep failing are given up: a fatal line, readiness and liveness 503 identity_server_down, the owner told once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'identity-restart-'));
    let gaveUp = 0;
    const gw = await gatewayOnFile(upstream.url, dir, {
      identityRestartPolicy: { initialDelayMs: 10, maxDelayMs: 20, stableAfterMs: 60_000, giveUpAfter: 3 },
      onIdentityGaveUp: () => gaveUp++,
    });
    try {
      holdDatabase(dir);
      await crash(gw);
      await until('it gave up', () => gaveUp === 1);
      // The crash, then two restarts that failed: three in a row.
      assert.equal(logged(gw, 'identity server thread exited unexpectedly; restarting it').length, 1);
      const failedRestarts = logged(gw, 'identity server thread failed to restart; retrying');
      assert.equal(failedRestarts.length, 1);
      assert.match(String((failedRestarts[0]!.err as { message: string }).message), /cannot open the SQLite database/);
      const fatal = logged(gw, 'identity server thread keeps failing (3 times in a row): giving up');
      assert.equal(fatal.length, 1);
      assert.equal(fatal[0]!.level, 60);
      assert.equal(gw.identityWorker, undefined);
      for (const path of ['/health/ready', '/health/alive']) {
        const h = await health(gw, path);
        assert.equal(h.status, 503, path);
        assert.equal(h.body.status, 'identity_server_down', path);
        assert.equal(h.body.failures, 3, path);
      }
    } finally {
      await gw.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a thread that stayed up stableAfterMs starts the count again; one that did not counts on', async () => {
    for (const [stableAfterMs, expected] of [
      [0, 'restarted'],
      [3_600_000, 'given up'],
    ] as const) {
      dir = mkdtempSync(join(tmpdir(), 'identity-restart-'));
      let gaveUp = 0;
      const gw = await gatewayOnFile(upstream.url, dir, {
        identityRestartPolicy: { initialDelayMs: 10, maxDelayMs: 10, stableAfterMs, giveUpAfter: 2 },
        onIdentityGaveUp: () => gaveUp++,
      });
      try {
        await crash(gw);
        await until('the thread is restarted', () => logged(gw, 'identity server thread restarted').length === 1);
        await crash(gw);
        if (expected === 'restarted') {
          await until('the thread is restarted again', () => logged(gw, 'identity server thread restarted').length === 2);
          assert.equal(gaveUp, 0);
          assert.equal((await health(gw, '/health/ready')).status, 200);
        } else {
          await until('it gave up', () => gaveUp === 1);
          assert.equal(logged(gw, 'identity server thread restarted').length, 1);
        }
      } finally {
        await gw.shutdown();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('shut down while a restart is pending: no restart is attempted after the shutdown', async () => {
    dir = mkdtempSync(join(tmpdir(), 'identity-restart-'));
    const policy = { initialDelayMs: 10, maxDelayMs: 10, stableAfterMs: 60_000, giveUpAfter: 1_000 };
    const gw = await gatewayOnFile(upstream.url, dir, { identityRestartPolicy: policy });
    const release = holdDatabase(dir);
    try {
      await crash(gw);
      await until('a restart failed', () => logged(gw, 'identity server thread failed to restart; retrying').length >= 1);
    } finally {
      await gw.shutdown();
    }
    try {
      const linesAtShutdown = gw.logLines.length;
      release();
      // With a restart every 10 ms still scheduled, one would have started within this window;
      // a slow machine can only make this pass without proving much, never fail it.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(gw.logLines.slice(linesAtShutdown), []);
      assert.equal(gw.identityWorker, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
