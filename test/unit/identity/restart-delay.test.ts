/** The identity thread's restart backoff (src/identity/server/supervisor.ts): doubling from the first wait, capped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RESTART_POLICY, restartDelay } from '../../../src/identity/server/supervisor.js';

test('the default waits 100 ms after a crash, doubles with each failure in a row, and stops at 30 s', () => {
  const waits = Array.from({ length: 12 }, (_, i) => restartDelay(i + 1, DEFAULT_RESTART_POLICY));
  assert.deepEqual(waits, [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]);
});

test('the default gives up after about 50 s of waiting: the waits before its tenth failure', () => {
  const { giveUpAfter } = DEFAULT_RESTART_POLICY;
  let total = 0;
  for (let failures = 1; failures < giveUpAfter; failures++) total += restartDelay(failures, DEFAULT_RESTART_POLICY);
  assert.equal(giveUpAfter, 10);
  assert.equal(total, 51_100);
});

test('a very long run of failures stays at the cap (no overflow to Infinity or NaN)', () => {
  assert.equal(restartDelay(10_000, DEFAULT_RESTART_POLICY), 30_000);
  assert.equal(restartDelay(0, DEFAULT_RESTART_POLICY), 100);
});
