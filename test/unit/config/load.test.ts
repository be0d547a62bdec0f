/**
 * loadConfigFile (src/config/load.ts) on real files. The process's behaviour on a bad
 * configuration is in test/integration/process/config-error-exit.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from '../../../src/config/load.js';
import { tempConfigFiles } from '../../helpers/config-files.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const { dir, file } = tempConfigFiles();

function loadProblems(path: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigFile(path, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected ${path} to be rejected`);
}

describe('loadConfigFile', () => {
  test('the shipped config/gateway.yaml loads', () => {
    const loaded = loadConfigFile(join(ROOT, 'config/gateway.yaml'), {});
    assert.equal(loaded.baseDir, join(ROOT, 'config'));
    assert.equal(loaded.path, join(ROOT, 'config/gateway.yaml'));
    assert.deepEqual(
      loaded.config.routes.map((r) => r.name),
      ['public', 'app'],
    );
    assert.equal(loaded.config.proxy.listen.port, 4455);
    assert.deepEqual(loaded.config.proxy.trusted_proxies, []);
    assert.equal(loaded.config.identity_headers['X-User-Email'], 'identity.traits.email');
  });
  test('an empty file gives the defaults', () => {
    const c = loadConfigFile(file(''), {}).config;
    assert.equal(c.proxy.listen.port, 4455);
    assert.deepEqual(c.routes, []);
  });
  test('a comment-only file gives the defaults', () => {
    assert.equal(loadConfigFile(file('# nothing here\n'), {}).config.admin.listen.port, 4456);
  });
  test('a YAML syntax error is reported as file:line:col', () => {
    const path = file('proxy:\n  listen: {host: 1\nadmin: {}\n');
    const p = loadProblems(path);
    assert.equal(p.length, 1);
    assert.match(p[0]!, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: \\S`));
    assert.doesNotMatch(p[0]!, /\n/);
  });
  test('the line and column point at the problem', () => {
    const path = file('proxy:\n  listen:\n    port: 1\n\tadmin: 2\n');
    const p = loadProblems(path);
    assert.match(p[0]!, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: `));
  });
  test('duplicate keys are rejected with their position', () => {
    const path = file('proxy:\n  listen: {port: 1}\nproxy:\n  listen: {port: 2}\n');
    const p = loadProblems(path);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /:3:1: .*unique/i);
  });
  test('nested duplicate keys are rejected too', () => {
    const p = loadProblems(file('proxy:\n  listen:\n    port: 1\n    port: 2\n'));
    assert.match(p[0]!, /:4:\d+: .*unique/i);
  });
  test('a top level that is not a mapping is rejected', () => {
    for (const text of ['- a\n- b\n', 'just a string\n', '42\n']) {
      const path = file(text);
      assert.deepEqual(loadProblems(path), [`${path}: the top level must be a mapping`], text);
    }
  });
  test('a missing file is reported with its path and the error code', () => {
    const path = join(dir, 'does-not-exist.yaml');
    assert.deepEqual(loadProblems(path), [`${path}: cannot read the configuration file (ENOENT)`]);
  });
  test('schema errors in a file carry key paths', () => {
    const p = loadProblems(
      file('proxy:\n  listen: {port: 99999}\nroutes:\n  - name: a\n    match: {path_prefix: /x}\n    upstream: nope\n'),
    );
    assert.ok(
      p.some((l) => l.startsWith('proxy.listen.port: ')),
      JSON.stringify(p),
    );
    assert.ok(
      p.some((l) => l === 'routes.0.upstream: must be an absolute http(s) URL'),
      JSON.stringify(p),
    );
  });
  test('environment overrides win over the file and are validated with it', () => {
    const path = file('proxy:\n  listen: {port: 1000}\nroutes:\n  - {name: a, match: {path_prefix: /}, upstream: "http://old:1"}\n');
    const c = loadConfigFile(path, {
      KRATOS_GATEWAY_PROXY__LISTEN__PORT: '2000',
      KRATOS_GATEWAY_ROUTES__0__UPSTREAM: 'http://new:2',
    }).config;
    assert.equal(c.proxy.listen.port, 2000);
    assert.equal(c.routes[0]!.upstream, 'http://new:2');
    const p = loadProblems(path, { KRATOS_GATEWAY_PROXY__LISTEN__PORT: 'eighty' });
    // The operator wrote the variable, not the key: the line names both.
    assert.deepEqual(p, ['KRATOS_GATEWAY_PROXY__LISTEN__PORT (proxy.listen.port): expected number, received string']);
  });
  test('an invalid YAML value in the environment names the variable', () => {
    const p = loadProblems(file('{}\n'), { KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES: '[a, ' });
    assert.match(p[0]!, /^KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES: not a valid YAML value/);
  });
  test('the process environment is the default source of overrides', () => {
    const path = file('{}\n');
    process.env.KRATOS_GATEWAY_LOG__LEVEL = 'warn';
    try {
      assert.equal(loadConfigFile(path).config.log.level, 'warn');
    } finally {
      delete process.env.KRATOS_GATEWAY_LOG__LEVEL;
    }
  });
});
