/**
 * The shared session cache over TLS, as docs/fleet.md describes it: `rediss://` to a TLS-only
 * redis-server whose certificate a private CA signed. A real gateway process trusts that CA only
 * through NODE_EXTRA_CA_CERTS; without it the certificate is refused, and the gateway keeps
 * serving from its own cache (degraded), saying so once, never with the password. A plain
 * `redis://` URL pointed at the TLS port must not hang requests either.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createTestCa, issueCertificate } from '../../helpers/certificates.js';
import { spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { startRedis, type RedisTlsFiles, type TestRedis } from '../../helpers/redis.js';
import { freePort, startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';

const PASSWORD = 'tls-Redis-pw-Secret-41';
const DOWN_MSG = 'shared session cache: Redis unreachable at start';
/** How long to wait for something that happens in milliseconds when healthy (a generous bound, for a loaded machine). */
const WAIT_MS = 30_000;
/** session_cache.shared.timeout_ms of these gateways: the most a request may wait on Redis. */
const SHARED_TIMEOUT_MS = 300;
/**
 * The most a request may take while Redis cannot be used: timeout_ms plus room for a loaded
 * machine. A gateway that waited on such a Redis would hang until the client gives up
 * (REQUEST_TIMEOUT_MS), failing the request.
 */
const DEGRADED_BOUND_MS = SHARED_TIMEOUT_MS + 4_000;
const REQUEST_TIMEOUT_MS = 20_000;

let dir: string;
let files: RedisTlsFiles;
let redis: TestRedis & { close(): Promise<void> };
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-redis-tls-'));
  files = issueCertificate(createTestCa(dir, 'ca', 'rsa'), dir, { hosts: ['127.0.0.1'], keyType: 'rsa' });
  redis = await startRedis({ tls: files, requirePass: PASSWORD });
  kratos = await startFakeKratos();
  upstream = await startEchoUpstream();
});
after(async () => {
  await redis?.close();
  await kratos?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Gateway {
  process: GatewayProcess;
  proxyUrl: string;
  adminUrl: string;
}

/** A gateway process with the shared cache at `redisUrl` (and the password in it); `env` added to its environment. */
async function gateway(name: string, redisUrl: string, env: Record<string, string>): Promise<Gateway> {
  const [proxy, admin] = [await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      ui: { enabled: false },
      log: { level: 'info' },
      proxy: { shutdown_grace_ms: 200 },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
    }),
  );
  const proxyUrl = `http://127.0.0.1:${proxy}`;
  const process = spawnGateway(['--config', file], {
    ...env,
    KRATOS_GATEWAY_PROXY__LISTEN__PORT: String(proxy),
    KRATOS_GATEWAY_PROXY__PUBLIC_BASE_URL: proxyUrl,
    KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(admin),
    KRATOS_GATEWAY_KRATOS__PUBLIC_URL: kratos.url,
    KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL: redisUrl,
    KRATOS_GATEWAY_SESSION_CACHE__SHARED__KEY_PREFIX: `kg-tls-${name}:`,
    KRATOS_GATEWAY_SESSION_CACHE__SHARED__TIMEOUT_MS: String(SHARED_TIMEOUT_MS),
  });
  try {
    await process.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 60_000);
  } catch (err) {
    await process.stop();
    throw err;
  }
  return { process, proxyUrl, adminUrl: `http://127.0.0.1:${admin}` };
}

async function sharedCacheUp(g: Gateway): Promise<number | undefined> {
  const text = await (await fetch(g.adminUrl + '/metrics', { signal: AbortSignal.timeout(5_000) })).text();
  const m = /^kratos_gateway_shared_cache_up (\d+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** Polls the gauge until it reads `want` (bounded: WAIT_MS). */
async function waitGauge(g: Gateway, want: number): Promise<void> {
  let last: number | undefined;
  for (const until = Date.now() + WAIT_MS; Date.now() < until;) {
    last = await sharedCacheUp(g);
    if (last === want) return;
    await sleep(25);
  }
  assert.fail(`kratos_gateway_shared_cache_up stayed ${last}, wanted ${want}\n${g.process.stdout()}`);
}

/** One authenticated request through the gateway, bounded so a hang fails with its cause. */
async function get(g: Gateway, token: string): Promise<{ status: number; ms: number }> {
  const t0 = Date.now();
  const r = await fetch(g.proxyUrl + '/x', { headers: { 'x-session-token': token }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  await r.arrayBuffer();
  return { status: r.status, ms: Date.now() - t0 };
}

const sharedCacheLines = (g: Gateway) =>
  g.process
    .stdout()
    .split('\n')
    .filter((l) => l.includes('shared session cache'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('rediss:// with the private CA in NODE_EXTRA_CA_CERTS: the cache is up and values land in Redis over TLS', async () => {
  const g = await gateway('trusted', `rediss://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}`, {
    NODE_EXTRA_CA_CERTS: files.caFile,
  });
  try {
    await waitGauge(g, 1);
    const { token } = kratos.addSession();
    assert.equal((await get(g, token)).status, 200);
    // The value is written after the answer (KEEP): poll for it, bounded.
    let keys = '';
    for (const until = Date.now() + WAIT_MS; Date.now() < until && !keys.includes('kg-tls-trusted:s:');) {
      keys = await redis.command('KEYS', 'kg-tls-trusted:s:*');
      if (!keys.includes('kg-tls-trusted:s:')) await sleep(20);
    }
    assert.match(keys, /kg-tls-trusted:s:/, 'a value key in the TLS Redis');
    assert.ok(!keys.includes(token), 'the key is not the credential');
    assert.equal(await sharedCacheUp(g), 1);
    // Log lines are batched and flushed on an interval: wait for the line, bounded.
    await g.process.waitFor('stdout', (t) => t.includes('"msg":"shared session cache up"'), WAIT_MS);
    const up = sharedCacheLines(g).filter((l) => l.msg === 'shared session cache up');
    assert.equal(up.length, 1, g.process.stdout());
    assert.equal(up[0]!.redis, `rediss://:***@127.0.0.1:${redis.port}`, 'the URL without the password');

    // Redis killed and back: the TLS connection is made again, one line per state change.
    await redis.stop();
    await waitGauge(g, 0);
    await redis.start();
    await waitGauge(g, 1);
    await g.process.waitFor('stdout', (t) => t.split('"msg":"shared session cache up"').length === 3, WAIT_MS);
    const changes = sharedCacheLines(g).filter((l) => l.level === 40 || l.msg === 'shared session cache up');
    assert.deepEqual(
      changes.map((l) => l.msg),
      [
        'shared session cache up',
        'shared session cache down: serving from the in-process cache, entries capped, invalidations queued',
        'shared session cache up',
      ],
      g.process.stdout(),
    );
    assert.ok(!g.process.stdout().includes(PASSWORD) && !g.process.stderr().includes(PASSWORD), 'no password in the output');
  } finally {
    await g.process.stop();
  }
});

test('proxy.workers: 2 inherit NODE_EXTRA_CA_CERTS: every process is up over TLS', async () => {
  const g = await gateway('workers', `rediss://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}`, {
    NODE_EXTRA_CA_CERTS: files.caFile,
    KRATOS_GATEWAY_PROXY__WORKERS: '2',
  });
  try {
    // The gauge on the admin listener is the least over the primary and both workers.
    await waitGauge(g, 1);
    const { token } = kratos.addSession();
    assert.equal((await get(g, token)).status, 200);
  } finally {
    await g.process.stop();
  }
});

/**
 * A TCP pass-through to the TLS Redis that counts connections: redis-server does not count a
 * handshake the client broke off, and how many attempts were refused is what this test needs.
 */
async function countingForwarder(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = connect(redis.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('rediss:// without the CA: the certificate is refused, logged once, and requests are served degraded', async () => {
  const forwarder = await countingForwarder();
  const g = await gateway('untrusted', `rediss://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${forwarder.port}`, {});
  try {
    await g.process.waitFor('stdout', (t) => t.includes(DOWN_MSG), WAIT_MS);
    assert.equal(await sharedCacheUp(g), 0);
    const { token } = kratos.addSession();
    for (let i = 0; i < 3; i++) {
      const r = await get(g, token);
      assert.equal(r.status, 200, 'served from Kratos and the in-process cache');
      assert.ok(r.ms < DEGRADED_BOUND_MS, `answered in ${r.ms} ms`);
    }
    // ioredis retries with backoff (50 ms doubling, at most 2 s): wait until it has been refused
    // several times (counted at redis-server), so that one line means one per state change.
    for (const until = Date.now() + WAIT_MS; forwarder.connections() < 4 && Date.now() < until;) await sleep(50);
    assert.ok(forwarder.connections() >= 4, `the gateway tried Redis ${forwarder.connections()} times`);
    const lines = sharedCacheLines(g).filter((l) => l.level === 40);
    assert.equal(lines.length, 1, `one warning for the state change, not one per attempt:\n${g.process.stdout()}`);
    assert.equal(lines[0]!.msg, `${DOWN_MSG}; serving from the in-process cache, entries capped`);
    assert.match(String(lines[0]!.reason), /certificate/i, 'the reason names the certificate failure');
    assert.equal(await sharedCacheUp(g), 0);
    const out = g.process.stdout() + g.process.stderr();
    assert.ok(!out.includes(PASSWORD), 'no password in the output');
    assert.ok(!out.includes(token), 'no credential in the output');
  } finally {
    await g.process.stop();
    await forwarder.close();
  }
});

test('plain redis:// against the TLS-only port: down, and requests do not hang', async () => {
  const g = await gateway('plain', `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}`, {
    NODE_EXTRA_CA_CERTS: files.caFile,
  });
  try {
    await g.process.waitFor('stdout', (t) => t.includes(DOWN_MSG), WAIT_MS);
    const { token } = kratos.addSession();
    for (let i = 0; i < 5; i++) {
      const r = await get(g, token);
      assert.equal(r.status, 200);
      assert.ok(r.ms < DEGRADED_BOUND_MS, `answered in ${r.ms} ms`);
    }
    assert.equal(await sharedCacheUp(g), 0);
    assert.equal(sharedCacheLines(g).filter((l) => l.level === 40).length, 1, g.process.stdout());
    assert.ok(!(g.process.stdout() + g.process.stderr()).includes(PASSWORD), 'no password in the output');
  } finally {
    await g.process.stop();
  }
});
