/**
 * Shared mode through whole gateways (in one process; multi-process fleets are tested
 * elsewhere): configuration (URL credentials, password_file relative to the config dir, a
 * ConfigError for a missing file), the metrics, a logout and an admin purge through one gateway
 * rejected by the other, readiness without Redis, and no credential material anywhere in Redis
 * (keys, values, pub/sub messages).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { ConfigError } from '../../../src/config/errors.js';
import { memoryLogger, startEchoUpstream, startFakeKratos, startTestGateway, testConfig } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { apiLogoutThrough } from './shared-helpers.js';

const PASSWORD = 'redis-Secret-pw-7';
let redis: TestRedis & { close(): Promise<void> };
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let dir: string;

before(async () => {
  redis = await startRedis({ requirePass: PASSWORD });
  kratos = await startFakeKratos();
  upstream = await startEchoUpstream();
  dir = mkdtempSync(join(tmpdir(), 'kg-shared-'));
  writeFileSync(join(dir, 'redis-password'), PASSWORD + '\n');
});
after(async () => {
  await redis.close();
  await kratos.close();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = (shared: Record<string, unknown>) => ({
  kratos: { public_url: kratos.url },
  // Generous: a healthy Redis on a busy machine must not be cut (the whoami counts below would race it).
  session_cache: { shared: { key_prefix: 'kg-gw:', timeout_ms: 2_000, ...shared } },
  routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
});

async function gatewayWithPasswordFile(): Promise<RunningGateway & { logLines: string[] }> {
  const { logger, lines } = memoryLogger();
  // The file wins over a (wrong) password in the URL.
  const gw = await startGateway(
    testConfig(config({ redis_url: `redis://default:wrong@127.0.0.1:${redis.port}`, password_file: 'redis-password' })),
    { logger, baseDir: dir },
  );
  return Object.assign(gw, { logLines: lines });
}

async function waitUp(gw: RunningGateway): Promise<void> {
  for (let n = 0; n < 3_000; n++) {
    if (/kratos_gateway_shared_cache_up 1/.test(await (await fetch(gw.adminUrl + '/metrics')).text())) return;
    await sleep(10);
  }
  assert.fail('the gateway did not connect to Redis');
}

const get = (gw: RunningGateway, headers: Record<string, string>) => fetch(gw.proxyUrl + '/x', { headers });

test('two gateways on one Redis: L2 hit, logout through A and admin purge through A are rejected by B on its next request', async () => {
  const a = await gatewayWithPasswordFile();
  const b = await startTestGateway(config({ redis_url: `redis://default:${PASSWORD}@127.0.0.1:${redis.port}` }));
  const messages: string[] = [];
  const spy = new Redis(redis.url, { password: PASSWORD });
  try {
    await spy.psubscribe('*');
    spy.on('pmessage', (_p: string, channel: string, message: string) => messages.push(channel + ' ' + message));
    await waitUp(a);
    await waitUp(b);
    const cookie = kratos.addSession();
    const bearer = kratos.addSession();
    const header = kratos.addSession();
    const credentials: { headers: Record<string, string>; s: { token: string } }[] = [
      { headers: { cookie: `ory_kratos_session=${cookie.token}` }, s: cookie },
      { headers: { authorization: `Bearer ${bearer.token}` }, s: bearer },
      { headers: { 'x-session-token': header.token }, s: header },
    ];
    const calls = kratos.state.calls;
    for (const { headers } of credentials) assert.equal((await get(a, headers)).status, 200);
    for (const { headers } of credentials) assert.equal((await get(b, headers)).status, 200);
    assert.equal(kratos.state.calls - calls, 3, 'B was answered from Redis (L2)');
    const text = await (await fetch(b.adminUrl + '/metrics')).text();
    assert.match(text, /kratos_gateway_shared_cache_up 1/);

    // Logout through A's mount (Kratos revokes it as it answers): B refuses the next request.
    kratos.sessions.get(header.token)!.active = false;
    await apiLogoutThrough(a, header.token);
    let status = (await get(b, { 'x-session-token': header.token })).status;
    for (let n = 0; n < 200 && status === 200; n++) {
      await sleep(10);
      status = (await get(b, { 'x-session-token': header.token })).status;
    }
    assert.equal(status, 401, 'revoked through A → rejected by B');

    // Revoked at Kratos's admin API, then the admin purge through A: B refuses it.
    kratos.sessions.get(cookie.token)!.active = false;
    const purge = await fetch(a.adminUrl + `/sessions/cache/identities/${cookie.identityId}`, { method: 'DELETE' });
    assert.deepEqual(await purge.json(), { identity_id: cookie.identityId, purged: 1 });
    status = (await get(b, { cookie: `ory_kratos_session=${cookie.token}` })).status;
    for (let n = 0; n < 200 && status === 200; n++) {
      await sleep(10);
      status = (await get(b, { cookie: `ory_kratos_session=${cookie.token}` })).status;
    }
    assert.equal(status, 401, 'purged through A → rejected by B');
    assert.match(await (await fetch(a.adminUrl + '/metrics')).text(), /kratos_gateway_invalidations_total\{direction="published"\} [1-9]/);

    // Revoked at Kratos, then the admin purge of that one credential through A: B refuses it.
    kratos.sessions.get(bearer.token)!.active = false;
    const purgeCredential = await fetch(a.adminUrl + '/sessions/cache/credential', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${bearer.token}` },
    });
    assert.deepEqual(await purgeCredential.json(), { purged: 1 });
    assert.equal((await get(b, { authorization: `Bearer ${bearer.token}` })).status, 401, 'purged through A → rejected by B');

    // Nothing in Redis or on its channels carries a credential, nor the Redis password in the logs.
    const secrets = [cookie.token, bearer.token, header.token];
    const keys = (await redis.command('KEYS', '*')).split('\r\n').filter((l) => !/^[*$]/.test(l) && l !== '');
    assert.ok(
      keys.some((k) => k.startsWith('kg-gw:s:')),
      `values stored: ${keys.join(' ')}`,
    );
    assert.ok(messages.length >= 2, 'messages were captured');
    const seen: string[] = [...keys, ...messages];
    for (const k of keys) {
      const type = (await redis.command('TYPE', k)).trim();
      if (type === '+string') seen.push(await redis.command('GET', k));
      else if (type === '+set') seen.push(await redis.command('SMEMBERS', k));
      else assert.fail(`unexpected ${type} at ${k}`);
    }
    for (const text of seen) for (const secret of secrets) assert.ok(!text.includes(secret), 'no raw credential in Redis');
    for (const line of [...a.logLines, ...b.logLines]) assert.ok(!line.includes(PASSWORD), 'the Redis password is never logged');
    assert.ok(a.logLines.some((l) => l.includes(`"shared_cache":"redis://default:***@127.0.0.1:${redis.port}`)));
    assert.ok(b.logLines.some((l) => l.includes(`"shared_cache":"redis://default:***@127.0.0.1:${redis.port}`)));
  } finally {
    spy.disconnect();
    await a.shutdown();
    await b.shutdown();
  }
});

test('readiness does not depend on Redis, and requests keep being served without it', async () => {
  const lonely = await startRedis();
  const gw = await startTestGateway(config({ redis_url: lonely.url }));
  try {
    await waitUp(gw);
    await lonely.stop();
    const { token } = kratos.addSession();
    assert.equal((await get(gw, { 'x-session-token': token })).status, 200);
    assert.equal((await fetch(gw.adminUrl + '/health/ready')).status, 200);
    // Noticed when the connection closes: waited for, not assumed to have happened by now.
    let metrics = '';
    for (let n = 0; n < 3_000 && !/kratos_gateway_shared_cache_up 0/.test(metrics); n++) {
      if (n > 0) await sleep(10);
      metrics = await (await fetch(gw.adminUrl + '/metrics')).text();
    }
    assert.match(metrics, /kratos_gateway_shared_cache_up 0/);
  } finally {
    await gw.shutdown();
    await lonely.close();
  }
});

test('a password_file that cannot be read is a configuration error naming the key; shared off exports no shared metrics', async () => {
  const { logger } = memoryLogger();
  await assert.rejects(
    startGateway(testConfig(config({ redis_url: redis.url, password_file: 'missing-file' })), { logger, baseDir: dir }),
    (err: unknown) => err instanceof ConfigError && /^session_cache\.shared\.password_file: cannot read .*missing-file/.test(err.message),
  );
  const off = await startTestGateway(config({}));
  try {
    const text = await (await fetch(off.adminUrl + '/metrics')).text();
    assert.doesNotMatch(text, /kratos_gateway_shared_cache_up|kratos_gateway_invalidations_total/);
  } finally {
    await off.shutdown();
  }
});

test('gateways mapping different values (a rolling update adding a header) never read each other’s summaries', async () => {
  const url = `redis://default:${PASSWORD}@127.0.0.1:${redis.port}`;
  const base = config({ redis_url: url, key_prefix: 'kg-shape:' });
  const older = await startTestGateway({ ...base, identity_headers: { 'X-User-Email': 'identity.traits.email' } });
  const newer = await startTestGateway({
    ...base,
    identity_headers: { 'X-User-Email': 'identity.traits.email', 'X-User-Name': 'identity.traits.name' },
  });
  try {
    await waitUp(older);
    await waitUp(newer);
    const s = kratos.addSession({ traits: { email: 'ada@example.com', name: 'Ada' } });
    const headers = { 'x-session-token': s.token };
    const calls = kratos.state.calls;
    const first = (await (await get(older, headers)).json()) as { headers: Record<string, string> };
    assert.equal(first.headers['x-user-email'], 'ada@example.com');
    // The older gateway's summary has no name: the newer one asks Kratos rather than drop the header.
    const second = (await (await get(newer, headers)).json()) as { headers: Record<string, string> };
    assert.equal(second.headers['x-user-name'], 'Ada');
    assert.equal(kratos.state.calls - calls, 2);
  } finally {
    await older.shutdown();
    await newer.shutdown();
  }
});
