/**
 * The process's behaviour on a bad configuration (src/main.ts run as a child process): exit 2,
 * `config error: key.path: reason` lines, never a stack trace.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempConfigFiles } from '../../helpers/config-files.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const { dir, file } = tempConfigFiles();

describe('main.ts on a bad configuration', () => {
  function runMain(configPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KRATOS_GATEWAY_') && !k.startsWith('NODE_TEST')) env[k] = v;
    return new Promise((resolveRun) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/main.ts', '--config', configPath],
        { cwd: ROOT, env, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
          resolveRun({ code: typeof code === 'number' ? code : null, stdout, stderr });
        },
      );
    });
  }

  test('schema errors: exit 2, "config error: key.path: reason" lines, no stack trace', async () => {
    const path = file('proxy:\n  listen: {port: 99999}\nroutes:\n  - name: a\n    match: {path_prefix: /x}\n    upstream: nope\n');
    const { code, stderr } = await runMain(path);
    assert.equal(code, 2, stderr);
    const lines = stderr.trimEnd().split('\n');
    assert.ok(lines.length >= 2, stderr);
    for (const line of lines) assert.match(line, /^config error: /, stderr);
    assert.ok(
      lines.some((l) => l.startsWith('config error: proxy.listen.port: ')),
      stderr,
    );
    assert.ok(lines.includes('config error: routes.0.upstream: must be an absolute http(s) URL'), stderr);
    assert.ok(!stderr.includes('    at '), `stack trace in stderr:\n${stderr}`);
  });

  test('YAML syntax error: exit 2, file:line:col, no stack trace', async () => {
    const path = file('proxy: {listen: {port: 1}\nadmin: [\n');
    const { code, stderr } = await runMain(path);
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`^config error: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
    assert.ok(!stderr.includes('    at '), `stack trace in stderr:\n${stderr}`);
  });

  test('cross-key error (unreachable route): exit 2 naming both routes', async () => {
    const path = file(
      'routes:\n  - {name: a, match: {path_prefix: /api}, upstream: "http://127.0.0.1:9"}\n  - {name: b, match: {path_glob: "/api/**"}, upstream: "http://127.0.0.1:9"}\n',
    );
    const { code, stderr } = await runMain(path);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr.trimEnd(),
      'config error: routes.1 ("b") matches exactly the same requests as routes.0 ("a"); one of them could never be chosen',
    );
  });

  test('missing file: exit 2 with the path', async () => {
    const path = join(dir, 'missing.yaml');
    const { code, stderr } = await runMain(path);
    assert.equal(code, 2, stderr);
    assert.equal(stderr.trimEnd(), `config error: ${path}: cannot read the configuration file (ENOENT)`);
  });
});
