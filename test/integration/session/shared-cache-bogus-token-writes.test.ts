/**
 * What a flood of bogus tokens costs Redis. Each distinct bogus token is a miss that the
 * fleet may have answered already, so Redis is asked once; but its "not a session" answer is
 * worth nothing to the other instances (a flood never repeats a token), so it is kept in this
 * instance's own bounded negative cache and nothing more is written, and no fleet-wide message is
 * sent unless another instance actually waits on that fill. Measured on a real redis-server with
 * INFO commandstats, which counts the commands scripts run too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cred, instance, sharedRig, waitFor } from './shared-helpers.js';

const rig = sharedRig();

async function stats(): Promise<Record<string, number>> {
  const text = await rig.redis.command('INFO', 'commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}
const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);

test('10,000 distinct bogus tokens cost Redis at most one command each and no PUBLISH; the negative cache stays bounded', async () => {
  const { redis, kratos } = rig;
  const o = { redisUrl: redis.url, kratosUrl: kratos.url, keyPrefix: 'kg-review-bogus:', store: { heartbeatMs: 600_000 } };
  const a = await instance(o);
  const b = await instance(o);
  try {
    kratos.state.fault = { kind: 'normal' };
    const N = 10_000;
    const keysBefore = Number((await redis.command('DBSIZE')).slice(1));
    assert.match(await redis.command('CONFIG', 'RESETSTAT'), /^\+OK/);
    for (let i = 0; i < N; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, async (_, j) => {
          assert.equal((await a.resolver.resolve(cred(`bogus-${i + j}-${Math.random()}`))).status, 'unauthenticated');
        }),
      );
    const s = await stats();
    const keys = Number((await redis.command('DBSIZE')).slice(1)) - keysBefore;
    console.log(`# ${N} distinct bogus tokens: ${total(s)} Redis commands (${JSON.stringify(s)}), ${keys} keys left`);
    assert.ok(total(s) <= N + 10, `at most one command per token, got ${total(s)}: ${JSON.stringify(s)}`);
    assert.equal(s.publish ?? 0, 0, 'no fleet-wide message: nobody waited');
    // The instance's own negative cache is bounded (a tenth of max_entries, at least 1,000).
    assert.ok(a.store.size <= 1_000, `A keeps ${a.store.size} entries`);
    assert.ok(a.store.size > 0, 'and it does keep the newest');
    assert.equal(b.store.size, 0, 'B keeps nothing for them');
    // What the flood left in Redis is fill locks, which lapse (whoami_timeout_ms + 500 ms; a generous bound here).
    const left = async () => Number((await redis.command('DBSIZE')).slice(1)) - keysBefore;
    for (let n = 0; n < 300 && (await left()) > 0; n++) await sleep(100);
    assert.equal(await left(), 0, 'the fill locks lapsed');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});

test('a bogus token another instance waits on: the waiter is still woken (one notice each way), and asks Kratos itself', async () => {
  const { redis, kratos } = rig;
  // A lock that lapses only after 30 s: B answering sooner was woken by A's notice.
  const WHOAMI_TIMEOUT_MS = 30_000;
  const o = {
    redisUrl: redis.url,
    kratosUrl: kratos.url,
    keyPrefix: 'kg-review-bogus-wait:',
    whoamiTimeoutMs: WHOAMI_TIMEOUT_MS,
    store: { heartbeatMs: 600_000 },
  };
  const a = await instance(o);
  const b = await instance(o);
  try {
    kratos.state.fault = { kind: 'delay', ms: 300 };
    assert.match(await redis.command('CONFIG', 'RESETSTAT'), /^\+OK/);
    const calls = kratos.state.calls;
    const token = `bogus-waited-${Math.random()}`;
    const first = a.resolver.resolve(cred(token));
    await waitFor(() => kratos.state.calls > calls, 'A to ask Kratos');
    const t = performance.now();
    const second = b.resolver.resolve(cred(token));
    assert.equal((await first).status, 'unauthenticated');
    assert.equal((await second).status, 'unauthenticated');
    const waitedMs = performance.now() - t;
    const s = await stats();
    console.log(`# a waited-on bogus fill: ${JSON.stringify(s)}; B answered after ${waitedMs.toFixed(0)} ms`);
    assert.equal(kratos.state.calls - calls, 2, 'a "not a session" is not shared: B asks Kratos itself once A is done');
    assert.equal(s.publish, 2, 'B tells A it waits; A tells the fleet its fill is done');
    assert.ok(waitedMs < WHOAMI_TIMEOUT_MS, `woken by A's notice, not by its lock lapsing: B answered after ${waitedMs.toFixed(0)} ms`);
  } finally {
    kratos.state.fault = { kind: 'normal' };
    await a.resolver.close();
    await b.resolver.close();
  }
});
