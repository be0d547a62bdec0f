/**
 * session_cache.max_bytes beside max_entries: a whole number of bytes in a sane range, settable
 * from the environment (the schema walk), with errors naming the key, or the variable and the
 * key. (That the store honours both bounds: test/unit/gateway/session/memory-session-store.test.ts.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '../../../src/config/load.js';

const RANGE = 'must be a whole number of bytes from 1048576 (1 MiB) to 1099511627776 (1 TiB)';
const dir = mkdtempSync(join(tmpdir(), 'kratos-gateway-bounds-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'config.yaml');
writeFileSync(path, 'session_cache: {max_entries: 5000}\n');

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return [];
}

test('max_bytes defaults to 64 MiB beside max_entries 100,000', () => {
  const c = parseConfig({}).session_cache;
  assert.equal(c.max_bytes, 64 * 1024 * 1024);
  assert.equal(c.max_entries, 100_000);
});

test('max_bytes: a whole number of bytes from 1 MiB to 1 TiB, else an exact message', () => {
  assert.equal(parseConfig({ session_cache: { max_bytes: 1048576 } }).session_cache.max_bytes, 1048576);
  assert.equal(parseConfig({ session_cache: { max_bytes: 2 ** 40 } }).session_cache.max_bytes, 2 ** 40);
  for (const bad of [1048575, 2 ** 40 + 1, 1.5e6 + 0.5, -1, '64Mi', null])
    assert.deepEqual(
      problems(() => parseConfig({ session_cache: { max_bytes: bad } })),
      [`session_cache.max_bytes: ${RANGE}`],
      String(bad),
    );
});

test('KRATOS_GATEWAY_SESSION_CACHE__MAX_BYTES sets it; a bad one names the variable and the key', () => {
  const c = loadConfigFile(path, { KRATOS_GATEWAY_SESSION_CACHE__MAX_BYTES: '33554432' }).config.session_cache;
  assert.equal(c.max_bytes, 33554432);
  assert.equal(c.max_entries, 5000, 'the file still sets the other bound');
  assert.deepEqual(
    problems(() => loadConfigFile(path, { KRATOS_GATEWAY_SESSION_CACHE__MAX_BYTES: '64MiB' })),
    [`KRATOS_GATEWAY_SESSION_CACHE__MAX_BYTES (session_cache.max_bytes): ${RANGE}`],
  );
});
