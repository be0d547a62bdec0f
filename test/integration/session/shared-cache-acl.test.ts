/**
 * The Redis ACL user docs/fleet.md tells operators to create, created verbatim on a real
 * redis-server, under two whole gateways (in one process) and under the real store and resolver:
 * every fleet guarantee holds with exactly those permissions — fills shared, the fill lock,
 * revalidation claims, purges published and received — Redis logs no refused command, and every
 * command sent is one the gateway declares. A user lacking any one of those commands is found
 * at connect: the store stays down and says which, once, and comes up when the user is fixed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { memoryLogger, startEchoUpstream, startFakeKratos, testConfig } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { aclCommandIn } from '../../unit/deploy/acl-command.js';
import { aclSetUser, commandsSent } from '../../../src/gateway/session/store/redis/scripts.js';
import { apiLogoutThrough, cred, instance, waitFor, type Instance } from './shared-helpers.js';

const USER = 'kratos-gateway';
const PREFIX = 'kratos-gateway:';
const password = randomBytes(18).toString('base64url');
let redis: TestRedis & { close(): Promise<void> };
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let dir: string;

/** The ACL command exactly as docs/fleet.md shows it, with this test's password. */
function documentedAcl(pw: string): string[] {
  const docs = readFileSync(new URL('../../../docs/fleet.md', import.meta.url), 'utf8');
  const args = aclCommandIn(docs).replace('GATEWAY_PASSWORD', pw).split(/\s+/);
  assert.deepEqual(args.slice(0, 3), ['ACL', 'SETUSER', USER]);
  return args;
}

before(async () => {
  redis = await startRedis();
  kratos = await startFakeKratos();
  upstream = await startEchoUpstream();
  dir = mkdtempSync(join(tmpdir(), 'kg-acl-'));
  writeFileSync(join(dir, 'redis-password'), password + '\n');
  assert.equal(await redis.command(...documentedAcl(password)), '+OK\r\n');
});
after(async () => {
  await redis?.close();
  await kratos?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gateway(): Promise<RunningGateway & { logLines: string[] }> {
  const { logger, lines } = memoryLogger();
  const gw = await startGateway(
    testConfig({
      kratos: { public_url: kratos.url },
      session_cache: {
        ttl_cap_ms: 600_000,
        shared: { redis_url: `redis://${USER}@127.0.0.1:${redis.port}`, password_file: 'redis-password', key_prefix: PREFIX },
      },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    }),
    { logger, baseDir: dir },
  );
  return Object.assign(gw, { logLines: lines });
}

const upGauge = async (gw: RunningGateway) => /kratos_gateway_shared_cache_up 1/.test(await (await fetch(gw.adminUrl + '/metrics')).text());

async function waitUp(gw: RunningGateway & { logLines: string[] }): Promise<void> {
  for (let n = 0; n < 1_000; n++) {
    if (await upGauge(gw)) return;
    await sleep(10);
  }
  assert.fail(`the gateway did not connect to Redis as the documented user:\n${gw.logLines.slice(-5).join('\n')}`);
}

const get = (gw: RunningGateway, token: string) => fetch(gw.proxyUrl + '/x', { headers: { 'x-session-token': token } });

test('the documented ACL user: a logout through gateway A is refused by gateway B on its next request', async () => {
  const a = await gateway();
  const b = await gateway();
  try {
    await waitUp(a);
    await waitUp(b);
    const s = kratos.addSession();
    assert.equal((await get(a, s.token)).status, 200);
    assert.equal((await get(b, s.token)).status, 200);

    // Logout through A's mount; Kratos revokes the session as it answers.
    kratos.sessions.get(s.token)!.active = false;
    await apiLogoutThrough(a, s.token);
    // The purge travels over pub/sub: B is given a generous bound to hear it (ttl_cap_ms is 10 minutes).
    let status = (await get(b, s.token)).status;
    for (let n = 0; n < 500 && status === 200; n++) {
      await sleep(10);
      status = (await get(b, s.token)).status;
    }
    assert.equal(status, 401, 'B still served the session logged out through A');
    assert.ok((await upGauge(a)) && (await upGauge(b)), 'both still report the shared cache up');
    assert.equal(await redis.command('ACL', 'LOG', '1'), '*0\r\n', 'Redis refused nothing the gateways sent');
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

/** Every command Redis ran since CONFIG RESETSTAT (scripts' commands included), by name. */
async function commandStats(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.command('INFO', 'commandstats')).matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

test('the documented ACL user under the real store and resolver: fill, L2 hit, fill lock, revalidation claim, purge fan-out', async () => {
  assert.match(await redis.command('CONFIG', 'RESETSTAT'), /^\+OK/);
  assert.match(await redis.command('ACL', 'LOG', 'RESET'), /^\+OK/);
  const R = 1_000;
  const o = {
    redisUrl: `redis://${USER}@127.0.0.1:${redis.port}`,
    kratosUrl: kratos.url,
    keyPrefix: PREFIX + 'resolver:',
    revalidateAfterMs: R,
    store: { password },
  };
  const f: Instance[] = [await instance(o), await instance(o), await instance(o)];
  const [a, b] = f as [Instance, Instance, Instance];
  try {
    // Fill through A, L2 hits on B and C.
    const s = kratos.addSession();
    let calls = kratos.state.calls;
    for (const i of f) assert.equal((await i.resolver.resolve(cred(s.token))).status, 'authenticated');
    assert.equal(kratos.state.calls - calls, 1, 'B and C were answered from Redis');

    // The fill lock: concurrent first requests on three instances, one whoami.
    const fresh = kratos.addSession();
    kratos.state.fault = { kind: 'delay', ms: 200 };
    calls = kratos.state.calls;
    try {
      const all = await Promise.all(Array.from({ length: 30 }, (_, n) => f[n % 3]!.resolver.resolve(cred(fresh.token))));
      for (const r of all) assert.equal(r.status, 'authenticated');
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
    assert.equal(kratos.state.calls - calls, 1, 'one whoami for the fleet');

    // The revalidation claim: the entry, now old everywhere, re-checked once for the three. The
    // re-check is kept in flight (Kratos slowed) while the other two ask, so they find it claimed.
    await sleep(R);
    calls = kratos.state.calls;
    const count = async (outcome: string) => {
      let n = 0;
      for (const i of f) n += (await i.metric(`kratos_gateway_session_revalidations_total{outcome="${outcome}"}`)) ?? 0;
      return n;
    };
    const before = { active: await count('active'), elsewhere: await count('elsewhere') };
    const outcomes = async (outcome: 'active' | 'elsewhere') => (await count(outcome)) - before[outcome];
    kratos.state.fault = { kind: 'delay', ms: 300 };
    try {
      for (const i of f) assert.equal((await i.resolver.resolve(cred(s.token))).status, 'authenticated');
      for (let n = 0; n < 500 && (await outcomes('elsewhere')) + (await outcomes('active')) < 3; n++) await sleep(10);
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
    assert.equal(await outcomes('active'), 1, 'one instance re-checked it');
    assert.equal(await outcomes('elsewhere'), 2, 'the two others saw it claimed');
    assert.equal(kratos.state.calls - calls, 1, 'one whoami for the re-check');

    // A logout through A (the mount purges the credential and its identity): B refuses it next.
    kratos.sessions.get(s.token)!.active = false;
    const received = (await b.metric('kratos_gateway_invalidations_total{direction="received"}')) ?? 0;
    await a.resolver.purgeIdentityOf(cred(s.token));
    await waitFor(() => b.store.get(b.resolver.cacheKey(cred(s.token))) === undefined, 'B dropping the logged-out session', 5_000);
    assert.equal((await b.resolver.resolve(cred(s.token))).status, 'unauthenticated');
    assert.ok(((await b.metric('kratos_gateway_invalidations_total{direction="received"}')) ?? 0) > received);

    for (const i of f) assert.equal(await i.metric('kratos_gateway_shared_cache_up'), 1);
    assert.equal(await redis.command('ACL', 'LOG', '1'), '*0\r\n', 'Redis refused nothing the store sent');
    const sent = Object.keys(await commandStats())
      .filter((n) => n !== 'config|resetstat' && n !== 'acl|log')
      .map((n) => n.toUpperCase());
    const declared: string[] = commandsSent();
    assert.deepEqual(
      sent.filter((n) => !declared.includes(n)),
      [],
      `every command Redis ran is one the gateway declares (${sent.join(' ')})`,
    );
  } finally {
    for (const i of f) await i.resolver.close();
  }
});

test('a user lacking any one of the commands: the store stays down, says which in one line, and comes up once the user is fixed', async () => {
  for (const missing of commandsSent().filter((c) => c !== 'AUTH')) {
    const user = `kg-without-${missing.toLowerCase()}`;
    const prefix = `${user}:`;
    const rule = aclSetUser(prefix, user, password).split(' ');
    const without = rule.filter((a) => a !== '+' + missing.toLowerCase());
    assert.equal(without.length, rule.length - 1);
    assert.equal(await redis.command(...without), '+OK\r\n');
    assert.match(await redis.command('ACL', 'LOG', 'RESET'), /^\+OK/);
    const ups: boolean[] = [];
    const i = await instance(
      {
        redisUrl: `redis://${user}@127.0.0.1:${redis.port}`,
        kratosUrl: kratos.url,
        keyPrefix: prefix,
        store: { password, heartbeatMs: 20, events: { up: (u) => ups.push(u), invalidation: () => {} } },
      },
      false,
    );
    try {
      // Checked again at every heartbeat: wait until Redis has refused it several times.
      const refusals = async () =>
        [...(await redis.command('ACL', 'LOG')).matchAll(/count\r\n:(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      for (let n = 0; n < 500 && (await refusals()) < 5; n++) await new Promise((r) => setTimeout(r, 10));
      assert.ok((await refusals()) >= 5, `${missing}: Redis refused it at least 5 times`);
      assert.deepEqual(ups.filter(Boolean), [], `${missing}: never reported up`);
      assert.equal(i.store.up, false);
      const lines = i.logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 40);
      assert.equal(lines.length, 1, `${missing}: one warning\n${i.logLines.join('\n')}`);
      const named = JSON.parse(lines[0]!) as { missing: string[]; msg: string };
      assert.ok(
        named.missing.some((m) => m.startsWith(missing)),
        `${missing}: named in ${lines[0]}`,
      );
      assert.match(named.msg, new RegExp(`may not run .*${missing}`));
      // Still served, from the in-process cache and whoami.
      const s = kratos.addSession();
      assert.equal((await i.resolver.resolve(cred(s.token))).status, 'authenticated');

      // The user fixed: up without a restart.
      assert.equal(await redis.command(...rule), '+OK\r\n');
      await waitFor(() => i.store.up, `${missing}: the store to come up once the user may run it`, 5_000);
      assert.deepEqual(ups, [false, true]);
    } finally {
      await i.resolver.close();
    }
  }
});
