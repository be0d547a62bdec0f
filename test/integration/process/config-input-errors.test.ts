/**
 * Bad input in the configuration is one exact config error and exit 2: a typo'd environment
 * list index (KRATOS_GATEWAY_ROUTES__<n>__...), an undefined YAML alias, an alias bomb.
 * Environment list indexes apply in numeric order. Spawns the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/process.js';

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kg-env-index-')), 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

test('a huge list index in an environment variable is one config error, not millions of lines and gigabytes', async () => {
  const file = configFile('{}\n');
  // The defect made 3M error lines and ~2 GB: with the heap capped it would die rather than take
  // long, and the exact stderr below rules out the lines. (Not a wall-clock bound: a loaded
  // machine is slow to start the CLI at all.)
  const r = await runCli(['validate', '--config', file], {
    KRATOS_GATEWAY_ROUTES__3000000__NAME: 'a',
    NODE_OPTIONS: '--max-old-space-size=256',
  });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'config error: KRATOS_GATEWAY_ROUTES__3000000__NAME: routes has no entry 2999999 (list indexes start at 0 and follow each other)\n',
  );
});

test('list indexes from the environment apply in numeric order (ROUTES__10 after ROUTES__9)', async () => {
  const file = configFile('{}\n');
  const env: Record<string, string> = {};
  for (let i = 0; i <= 10; i++)
    env[`KRATOS_GATEWAY_ROUTES__${i}`] = `{name: r${i}, match: {path_prefix: /r${i}}, upstream: "http://127.0.0.1:9"}`;
  const r = await runCli(['validate', '--config', file], env);
  assert.equal(r.code, 0, r.stderr);
});

test('an undefined alias or an alias bomb in the configuration file is a config error (exit 2), not "fatal" (exit 1)', async () => {
  const alias = configFile('proxy: *nope\n');
  const r = await runCli(['validate', '--config', alias]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `config error: ${alias}: Unresolved alias (the anchor must be set before the alias): nope\n`);
  const rows = ['a: &a [x,x,x,x,x,x,x,x,x]'];
  for (const [prev, name] of [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'd'],
    ['d', 'e'],
  ])
    rows.push(
      `${name}: &${name} [${Array(9)
        .fill('*' + prev)
        .join(',')}]`,
    );
  rows.push(`f: [${Array(9).fill('*e').join(',')}]`);
  const bomb = configFile(rows.join('\n') + '\n');
  const b = await runCli(['validate', '--config', bomb]);
  assert.equal(b.code, 2);
  assert.equal(b.stderr, `config error: ${bomb}: Excessive alias count indicates a resource exhaustion attack\n`);
});
