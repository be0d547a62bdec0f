/**
 * Redis faults never take the shared tier's users down: Redis killed (SIGKILL), hanging
 * (DEBUG SLEEP) or absent at start → lookups answered from L1 and Kratos within timeout_ms,
 * entries capped at degraded_ttl_cap_ms, the up gauge at 0, one log line per state change;
 * Redis back → the same stores reconnect, re-subscribe, replay queued invalidations, and the
 * fan-out works again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeKratos } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { cred, instance, waitFor, type Instance } from './shared-helpers.js';

let redis: TestRedis & { close(): Promise<void> };
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;

before(async () => {
  redis = await startRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
  kratos = await startFakeKratos();
});
after(async () => {
  await redis.close();
  await kratos.close();
});

// Long enough that a healthy Redis on a busy machine answers within it, short against the hang.
const TIMEOUT_MS = 1_000;
const HANG_S = 6;
// Long enough that the steps between noticing the outage and the hit below fit in it on a busy machine.
const DEGRADED_CAP_MS = 3_000;
const lines = (i: Instance, msg: string) => i.logLines.filter((l) => l.includes(msg));

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t };
}

test('Redis killed, hanging, then restarted: lookups never wait past timeout_ms, entries are capped, the same stores recover', async () => {
  const o = {
    redisUrl: redis.url,
    kratosUrl: kratos.url,
    keyPrefix: 'kg-faults:',
    timeoutMs: TIMEOUT_MS,
    degradedTtlCapMs: DEGRADED_CAP_MS,
  };
  const a = await instance(o);
  const b = await instance(o);
  try {
    assert.equal(await a.metric('kratos_gateway_shared_cache_up'), 1);
    const cached = kratos.addSession();
    await a.resolver.resolve(cred(cached.token));
    await b.resolver.resolve(cred(cached.token));

    // Hanging Redis: a new credential is answered by Kratos after at most timeout_ms on Redis.
    const fresh = kratos.addSession();
    const sleeping = redis.command('DEBUG', 'SLEEP', String(HANG_S)).catch(() => '');
    await sleep(50);
    const slow = await timed(a.resolver.resolve(cred(fresh.token)));
    assert.equal(slow.value.status, 'authenticated');
    // Bounds well below the hang: waiting for Redis would take it all.
    assert.ok(slow.ms < TIMEOUT_MS + 3_000, `waited ${slow.ms.toFixed(0)} ms on a hanging Redis`);
    const purgeSlow = await timed(a.resolver.purgeIdentity(fresh.identityId));
    assert.ok(purgeSlow.ms < TIMEOUT_MS + 3_000, 'a purge does not wait past timeout_ms either');
    await sleeping;
    // The hang is missed heartbeats: it may have been reported as down and up again.
    await waitFor(() => a.store.up && b.store.up, 'the stores to see Redis answer again');
    const downLines = lines(a, 'shared session cache down').length;
    // Cached again while up: if the hang was reported as an outage, the cap made the entry lapse.
    await a.resolver.resolve(cred(cached.token));

    // Killed.
    const calls = kratos.state.calls;
    await redis.stop();
    await waitFor(() => !a.store.up && !b.store.up, 'both stores to notice Redis is gone');
    assert.equal(await a.metric('kratos_gateway_shared_cache_up'), 0);
    assert.equal(lines(a, 'shared session cache down').length, downLines + 1, 'one line for the change');
    const hit = a.resolver.resolveNow(cred(cached.token));
    assert.ok(!(hit instanceof Promise) && hit.status === 'authenticated', 'a cached session is still a synchronous hit');
    const other = kratos.addSession();
    const down = await timed(b.resolver.resolve(cred(other.token)));
    assert.equal(down.value.status, 'authenticated');
    assert.ok(down.ms < TIMEOUT_MS + 3_000, `a new credential waited ${down.ms.toFixed(0)} ms with Redis down`);
    const purgeDown = await timed(b.resolver.purgeIdentity('someone-else'));
    assert.ok(purgeDown.ms < TIMEOUT_MS / 2, 'with Redis known down, a purge is queued at once, not after timeout_ms');

    // The degraded cap: entries from before the outage and new ones alike lapse within it.
    await sleep(DEGRADED_CAP_MS + 100);
    const before = kratos.state.calls;
    await a.resolver.resolve(cred(cached.token));
    await b.resolver.resolve(cred(other.token));
    assert.equal(kratos.state.calls - before, 2, 'both asked Kratos again after degraded_ttl_cap_ms');
    assert.ok(kratos.state.calls - calls >= 3);
    assert.equal(lines(a, 'shared session cache down').length, downLines + 1, 'still one line: no line per failed reconnect');
    const upLines = lines(a, 'shared session cache up').length;

    // Restarted: the same stores reconnect and re-subscribe; queued invalidations are replayed.
    const publishedBefore = (await b.metric('kratos_gateway_invalidations_total{direction="published"}'))!;
    await redis.start();
    await waitFor(() => a.store.up && b.store.up, 'both stores to reconnect');
    assert.equal(await a.metric('kratos_gateway_shared_cache_up'), 1);
    assert.equal(lines(a, 'shared session cache up').length, upLines + 1);
    let published = publishedBefore;
    for (let n = 0; n < 200 && published < publishedBefore + 1; n++) {
      await sleep(10);
      published = (await b.metric('kratos_gateway_invalidations_total{direction="published"}'))!;
    }
    assert.ok(published >= publishedBefore + 1, 'the purge made while Redis was down was published once it was back');

    const again = kratos.addSession();
    await a.resolver.resolve(cred(again.token));
    await b.resolver.resolve(cred(again.token));
    assert.equal(b.store.size > 0 && a.store.size > 0, true);
    await a.resolver.purgeIdentity(again.identityId);
    await waitFor(() => b.store.get(b.resolver.cacheKey(cred(again.token))) === undefined, 'the fan-out after the restart');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});

test('Redis unreachable at start: the store starts at once, serves degraded, and connects when Redis appears', async () => {
  const late = await startRedis();
  await late.stop();
  const started = performance.now();
  const a = await instance(
    { redisUrl: late.url, kratosUrl: kratos.url, keyPrefix: 'kg-late:', timeoutMs: TIMEOUT_MS, degradedTtlCapMs: DEGRADED_CAP_MS },
    false,
  );
  try {
    // Redis appears only further down: a store that waited for it would never get here.
    assert.ok(performance.now() - started < 10_000, 'no waiting for Redis at start');
    const { token } = kratos.addSession();
    const r = await timed(a.resolver.resolve(cred(token)));
    assert.equal(r.value.status, 'authenticated');
    assert.ok(r.ms < TIMEOUT_MS + 3_000);
    await waitFor(() => lines(a, 'Redis unreachable at start').length === 1, 'the start-up warning');
    assert.equal(await a.metric('kratos_gateway_shared_cache_up'), 0);
    await late.start();
    await waitFor(() => a.store.up, 'the store to connect');
    assert.equal(lines(a, 'Redis unreachable at start').length, 1);
  } finally {
    await a.resolver.close();
    await late.close();
  }
});
