/**
 * A Redis that answers the miss's `SET … PX … NX GET` with an error rather than a
 * refusal (Redis 6.2 and older: a syntax error). This redis-server is 7.x, so the error is made
 * by renaming SET away (scripts then get "unknown command" for it): the store must stay down,
 * never send a miss there, and its one warning must say what the gateway needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeKratos } from '../../helpers/servers.js';
import { startRedis } from '../../helpers/redis.js';
import { cred, instance } from './shared-helpers.js';

test('SET in the form the gateway sends answered with an error: down, one warning naming what is needed, lookups still answered', async () => {
  const redis = await startRedis({ extraArgs: ['--rename-command', 'SET', 'kg-renamed-set'] });
  const kratos = await startFakeKratos();
  const ups: boolean[] = [];
  const i = await instance(
    {
      redisUrl: redis.url,
      kratosUrl: kratos.url,
      keyPrefix: 'kg-review-set-form:',
      store: { heartbeatMs: 20, events: { up: (u) => ups.push(u), invalidation: () => {} } },
    },
    false,
  );
  try {
    // Asked again at each heartbeat: wait until the check has run many times.
    const evals = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await redis.command('INFO', 'commandstats'))?.[1] ?? 0);
    for (let n = 0; n < 500 && (await evals()) < 5; n++) await sleep(10);
    assert.ok((await evals()) >= 5, 'the check ran at least 5 times');
    assert.deepEqual(ups.filter(Boolean), [], 'never reported up');
    const warnings = i.logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 40);
    assert.equal(warnings.length, 1, i.logLines.join('\n'));
    const line = JSON.parse(warnings[0]!) as { msg: string; errors: string[] };
    assert.match(line.errors.join(' '), /^SET: .*needs Redis 7\.0 or later/);
    assert.match(line.msg, /shared session cache down: Redis refuses SET: .*needs Redis 7\.0 or later/);
    const { token } = kratos.addSession();
    assert.equal((await i.resolver.resolve(cred(token))).status, 'authenticated', 'served from Kratos');
  } finally {
    await i.resolver.close();
    await redis.close();
    await kratos.close();
  }
});
