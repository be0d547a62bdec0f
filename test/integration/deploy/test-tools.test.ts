/**
 * `npm ci && npm test` must pass on a fresh machine by itself: the system programs the suites
 * run for real are provisioned by npm's `pretest` steps (scripts/test-tools.sh), not only by CI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const toolScript = read('scripts/test-tools.sh');

/** The `program:package` pairs the script provisions for one suite. */
function provisioned(suite: string): string[] {
  const line = toolScript.split('\n').find((l) => l.trim().startsWith(`${suite})`));
  assert.ok(line, `scripts/test-tools.sh has no ${suite} case`);
  return [...line.matchAll(/"([a-z0-9-]+):[a-z0-9-]+"/g)].map((m) => m[1]!);
}

describe('test tool provisioning', () => {
  it('runs before the README test commands', () => {
    assert.equal(scripts.pretest, 'bash scripts/test-tools.sh suite');
    assert.equal(scripts['pretest:e2e'], 'bash scripts/test-tools.sh e2e');
  });

  it('covers every system program the suites start', () => {
    // Where each program is started: a test spawning a new one must be listed here and in the script.
    assert.match(read('test/integration/deploy/nginx.ts'), /spawn\(NGINX/);
    assert.match(read('test/integration/deploy/yamllint.test.ts'), /execFile\('yamllint'/);
    assert.match(read('test/integration/deploy/helm-render.ts'), /'go'/);
    assert.match(read('test/e2e/support/browser.ts'), /\/usr\/bin\/chromium/);
    assert.match(read('test/helpers/redis.ts'), /spawn\(REDIS_SERVER/);
    assert.match(read('test/integration/front-doors/caddy.ts'), /spawn\(CADDY/);
    assert.deepEqual(provisioned('suite').sort(), ['caddy', 'go', 'nginx', 'redis-server', 'yamllint']);
    assert.deepEqual(provisioned('e2e'), ['chromium']);
  });

  it('leaves CI to the README commands (no set-up of its own)', () => {
    const ci = read('.ci/run');
    assert.doesNotMatch(ci, /apt-get|apt install/);
    for (const command of ['npm ci', 'npm test', 'npm run test:e2e']) assert.ok(ci.includes(`\n${command}\n`), `.ci/run runs ${command}`);
  });

  it('finds the programs on this machine (exit 0, nothing to install)', async () => {
    const { stderr } = await promisify(execFile)('bash', [join(root, 'scripts/test-tools.sh'), 'suite']);
    assert.equal(stderr, '');
  });

  it('refuses an unknown suite with a usage line', async () => {
    await assert.rejects(
      promisify(execFile)('bash', [join(root, 'scripts/test-tools.sh'), 'everything']),
      (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr ?? '', /usage: .* suite\|e2e/);
        return true;
      },
    );
  });
});
