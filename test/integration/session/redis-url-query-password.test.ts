/**
 * ioredis takes every query parameter of the URL as an option, `password` and
 * `username` included, and lets them win over the options the store passes. So
 * `redis://host:6379/?password=…` authenticates, the store's log lines printed it (redactUrl
 * then knew only the userinfo; it now masks every query value), and it silently overrode session_cache.shared.password_file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSessionStore } from '../../../src/gateway/session/store/tiered-store.js';
import { memoryLogger } from '../../helpers/servers.js';
import { startRedis } from '../../helpers/redis.js';

const memory = { maxEntries: 10, maxBytes: 100_000, ttlCapMs: 1_000, negativeTtlMs: 1_000 };
const store = (url: string, password?: string) => {
  const { logger, lines } = memoryLogger();
  const s = new RedisSessionStore({
    url,
    ...(password !== undefined && { password }),
    keyPrefix: 'kg-review-q:',
    timeoutMs: 200,
    degradedTtlCapMs: 100,
    whoamiTimeoutMs: 500,
    memory,
    logger,
  });
  return { s, lines };
};

async function waitUp(s: RedisSessionStore): Promise<boolean> {
  for (let i = 0; i < 100 && !s.up; i++) await sleep(20);
  return s.up;
}

test('a password in the URL query is never logged, and password_file wins over it', async () => {
  const redis = await startRedis({ requirePass: 'Right-pw-1' });
  try {
    const inQuery = store(`redis://127.0.0.1:${redis.port}/?password=Right-pw-1`);
    try {
      assert.ok(await waitUp(inQuery.s), 'the query password still authenticates');
      assert.ok(inQuery.lines.length > 0);
      assert.ok(!inQuery.lines.join('\n').includes('Right-pw-1'), `no password in:\n${inQuery.lines.join('\n')}`);
    } finally {
      await inQuery.s.close();
    }
    // A stale password left in the query must not beat the file's.
    const fromFile = store(`redis://127.0.0.1:${redis.port}/?password=Old-pw-0`, 'Right-pw-1');
    try {
      assert.ok(await waitUp(fromFile.s), 'password_file wins over a password in the query');
      assert.ok(!fromFile.lines.join('\n').includes('Old-pw-0'));
    } finally {
      await fromFile.s.close();
    }
  } finally {
    await redis.close();
  }
});
