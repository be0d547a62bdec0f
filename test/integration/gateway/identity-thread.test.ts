/**
 * The embedded identity server runs on its own worker thread, so its CPU work
 * cannot stall the data plane. Checked structurally (no timing): the thread exists, its log
 * lines reach the gateway's logger, startup errors keep their in-process shape, shutdown
 * ends the thread, and a thread on an in-memory database is restarted empty. A dead thread's
 * fail-closed answers and its restarts on a file database: identity-thread-restart.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { threadId, Worker } from 'node:worker_threads';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { startGateway } from '../../../src/start-gateway.js';
import { embeddedKratos, freePort, memoryLogger, startEchoUpstream, startTestGateway, testConfig } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

async function gatewayWithIdentity(upstream: string): Promise<Gateway> {
  const port = await freePort();
  return startTestGateway({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: embeddedKratos(),
    routes: [
      { name: 'public', match: { path_prefix: '/public' }, upstream, auth: 'anonymous' },
      { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' },
    ],
  });
}

async function registerViaMount(gw: Gateway, email: string): Promise<string> {
  const mount = gw.proxyUrl + '/.ory/kratos/public';
  const init = await request(mount + '/self-service/registration/api', { headers: { accept: 'application/json' } });
  const flow = (await init.body.json()) as { id: string };
  const res = await request(mount + `/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      method: 'password',
      password: 'correct horse battery staple 9',
      traits: { email, name: { first: 'T', last: 'T' } },
    }),
  });
  const body = (await res.body.json()) as { session_token?: string };
  assert.equal(res.statusCode, 200, JSON.stringify(body).slice(0, 300));
  assert.ok(body.session_token);
  return body.session_token;
}

describe('embedded identity server on a worker thread', () => {
  let upstream: Echo;
  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(() => upstream.close());

  test('runs on a worker thread whose log lines reach the gateway logger, and shutdown ends the thread', async () => {
    const gw = await gatewayWithIdentity(upstream.url);
    let exited: Promise<number> | undefined;
    try {
      assert.ok(gw.identityWorker instanceof Worker);
      assert.notEqual(gw.identityWorker.threadId, threadId);
      exited = new Promise((r) => gw.identityWorker?.once('exit', r));
      const listening = gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'identity server listening');
      assert.ok(listening, gw.logLines.join('\n'));
      assert.equal(listening.component, 'identity');
      assert.equal(listening.service, 'kratos-gateway');
      assert.equal(listening.public_url, gw.kratosPublicUrl);

      await registerViaMount(gw, 'thread@example.com');
      const registered = gw.logLines.find((l) => l.includes('"identity registered"'));
      assert.ok(registered, 'a log line written on the worker after startup arrives too');
      assert.ok(!registered.includes('correct horse'), 'no password in the log');
    } finally {
      await gw.shutdown();
    }
    assert.equal(typeof (await exited), 'number');
  });

  test('a thread on an in-memory database is restarted empty, and its log lines say so', async () => {
    const gw = await gatewayWithIdentity(upstream.url);
    try {
      // Registered but never presented, so the session cache cannot answer for it.
      const token = await registerViaMount(gw, 'memory-restart@example.com');
      const worker = gw.identityWorker;
      assert.ok(worker);
      await worker.terminate();
      const lines = () => gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (let i = 0; i < 3_000 && !lines().some((l) => l.msg === 'identity server thread restarted'); i++)
        await new Promise((r) => setTimeout(r, 20));
      const crashed = lines().find((l) => l.msg === 'identity server thread exited unexpectedly; restarting it');
      const restarted = lines().find((l) => l.msg === 'identity server thread restarted');
      assert.equal(crashed?.in_memory_database, true);
      assert.equal(restarted?.in_memory_database, true);
      assert.equal(restarted.public_url, gw.kratosPublicUrl, 'listening where the gateway was told it does');

      const res = await request(gw.proxyUrl + '/app', { headers: { 'x-session-token': token, accept: 'application/json' } });
      await res.body.text();
      assert.equal(res.statusCode, 401, 'the session was in the memory of the thread that died');
    } finally {
      await gw.shutdown();
    }
  });

  test('a kratos.yml error on the worker still rejects startGateway with KratosConfigError and its message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'identity-thread-'));
    try {
      const file = join(dir, 'kratos.yml');
      const raw = parse(readFileSync(resolve('config/kratos.yml'), 'utf8')) as Record<string, unknown>;
      // Relative schema URLs in the quickstart file resolve against the config folder.
      writeFileSync(join(dir, 'identity.schema.json'), readFileSync(resolve('config/identity.schema.json')));
      writeFileSync(file, stringify({ ...raw, session: { lifespan: 'forever' } }));
      await assert.rejects(
        startGateway(testConfig({ embedded_kratos: embeddedKratos(file) }), { logger: memoryLogger().logger }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(err.name, 'KratosConfigError');
          assert.equal(err.message, 'session.lifespan: "forever" is not a duration like "1h", "15m" or "30s"');
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
