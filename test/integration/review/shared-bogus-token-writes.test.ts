/**
 * Review: what a flood of bogus tokens costs Redis. Each distinct bogus token is one miss: the
 * fill lock (SET NX), the negative answer (SET PX), the lock's release (DEL) and a PUBLISH on
 * the fill channel that every instance receives. Measured with INFO commandstats (commands run
 * inside scripts count there too); the bound asserted is the design's, so a change that adds
 * writes per bogus request shows here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cred, instance, sharedRig } from '../session/shared-helpers.js';

const rig = sharedRig();

async function stats(): Promise<Record<string, number>> {
  const text = await rig.redis.command('INFO', 'commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

test('a bogus token costs Redis a bounded number of writes and one fleet-wide message, and one key for negative_ttl_ms', async () => {
  const { redis, kratos } = rig;
  const o = { redisUrl: redis.url, kratosUrl: kratos.url, keyPrefix: 'kg-review-bogus:', store: { heartbeatMs: 60_000 } };
  const a = await instance(o);
  const b = await instance(o);
  try {
    const N = 200;
    const before = await stats();
    const keysBefore = Number((await redis.command('DBSIZE')).slice(1));
    for (let i = 0; i < N; i++) assert.equal((await a.resolver.resolve(cred(`bogus-${i}-${Math.random()}`))).status, 'unauthenticated');
    const after = await stats();
    const d = (c: string) => ((after[c] ?? 0) - (before[c] ?? 0)) / N;
    const keys = Number((await redis.command('DBSIZE')).slice(1)) - keysBefore;
    console.log(
      `# per bogus token: evalsha+eval ${d('evalsha') + d('eval')}, set ${d('set')}, del ${d('del')}, publish ${d('publish')}, get ${d('get')}; keys left ${keys / N} (for negative_ttl_ms)`,
    );
    assert.equal(d('evalsha') + d('eval'), 2, 'LOAD and KEEP (EVAL once per script after NOSCRIPT)');
    assert.equal(d('set') + d('del'), 3, 'lock, negative entry, lock released');
    assert.equal(d('publish'), 1, 'the fill notice, received by every instance');
    assert.equal(keys, N, 'one negative entry per bogus token');
    assert.ok(b.store.size === 0, 'B keeps nothing for them');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});
