/**
 * `npm ci && npm start` and `npm ci && npm test` work on a machine whose preinstalled Node is
 * older than package.json's engines.node: every npm script that runs Node goes through
 * scripts/node.sh, which then runs the image's Node from the npm registry's `node` package
 * (cached). These tests run the script from a copy of the repository's script and package.json
 * with a prepared cache, so nothing is downloaded; an "older Node" is this Node reporting
 * version 20.20.2 to JavaScript.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../unit/deploy/values-schema.js';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; engines: { node: string } };
const script = read('scripts/node.sh');
const fallbackMajor = Number(/^major=(\d+)/m.exec(script)?.[1]);

/** A directory laid out like the repository: scripts/node.sh, what it runs, and package.json (engines replaced when given). */
function repoCopy(engines?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'kg-node-sh-'));
  mkdirSync(join(dir, 'scripts'));
  for (const name of ['node.sh', 'install-node.sh']) copyFileSync(join(repoRoot, 'scripts', name), join(dir, 'scripts', name));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, engines: { node: engines ?? pkg.engines.node } }));
  return dir;
}

/** A bin directory whose `node` is this Node reporting an older version, plus optional extra commands. */
function oldNodeBin(dir: string, extra: Record<string, string> = {}) {
  const bin = join(dir, 'old-bin');
  mkdirSync(bin);
  const preload = join(dir, 'old.cjs');
  writeFileSync(
    preload,
    "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.20.2' } });\n" +
      "Object.defineProperty(process, 'version', { value: 'v20.20.2' });\n",
  );
  const commands = { node: `exec "${process.execPath}" --require "${preload}" "$@"`, ...extra };
  for (const [name, body] of Object.entries(commands)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

function run(dir: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile('bash', [join(dir, 'scripts/node.sh'), ...args], { env }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      done({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

/** Prints the version the JavaScript sees, and that of a `node` child started by name. */
const probe = ['-p', "process.versions.node + ' ' + require('child_process').execSync('node -p process.versions.node').toString().trim()"];
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('scripts/node.sh (a supported Node for npm start and npm test)', () => {
  it('every npm script that runs Node goes through it', () => {
    for (const [name, command] of Object.entries(pkg.scripts)) {
      assert.doesNotMatch(command, /(^|&&|;|\|\|)\s*node\s/, `npm run ${name} starts node directly`);
    }
    for (const name of ['start', 'test', 'test:e2e']) assert.match(pkg.scripts[name]!, /\bbash scripts\/node\.sh /, name);
  });

  it('falls back to the Node the image runs, which satisfies engines.node', () => {
    const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    assert.ok(images.length > 0);
    for (const major of images) assert.equal(fallbackMajor, major);
    const min = Number(/^>=(\d+)/.exec(pkg.engines.node)?.[1]);
    assert.ok(fallbackMajor >= min, `Node ${fallbackMajor} satisfies ${pkg.engines.node}`);
  });

  it('runs the Node on PATH when it satisfies engines.node, and says nothing', async () => {
    const dir = repoCopy();
    dirs.push(dir);
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, XDG_CACHE_HOME: join(dir, 'cache') };
    const res = await run(dir, probe, env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), `${process.versions.node} ${process.versions.node}`);
    assert.equal(res.stderr, '');
    assert.equal(existsSync(join(dir, 'cache')), false, 'nothing fetched');
  });

  it('on an older Node runs the cached Node instead, first on PATH for what it starts, and says so', async () => {
    const dir = repoCopy();
    dirs.push(dir);
    const cached = join(dir, `cache/kratos-gateway/node${fallbackMajor}`);
    mkdirSync(join(cached, 'node_modules/.bin'), { recursive: true });
    symlinkSync(process.execPath, join(cached, 'node_modules/.bin/node'));
    const env = { PATH: `${oldNodeBin(dir)}:/usr/bin:/bin`, XDG_CACHE_HOME: join(dir, 'cache') };
    // The older Node itself, for contrast.
    const old = await new Promise<string>((done) =>
      execFile('node', ['-p', 'process.versions.node'], { env }, (_e, out) => done(out.trim())),
    );
    assert.equal(old, '20.20.2');
    const res = await run(dir, probe, env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), `${process.versions.node} ${process.versions.node}`);
    assert.equal(
      res.stderr,
      `scripts/node.sh: running on Node ${process.version} from ${cached} (this machine's Node is older than package.json engines.node)\n`,
    );
  });

  it('when the Node cannot be installed: the exact way out, a failing exit and no half-installed cache', async () => {
    const dir = repoCopy();
    dirs.push(dir);
    const env = {
      PATH: `${oldNodeBin(dir, { npm: 'echo "npm error network unreachable" >&2; exit 1' })}:/usr/bin:/bin`,
      XDG_CACHE_HOME: join(dir, 'cache'),
    };
    const res = await run(dir, ['-e', 'console.log("ran")'], env);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(
      res.stderr,
      /Node v20\.20\.2 does not satisfy package\.json engines\.node; installing Node \d+ from the npm registry's node package/,
    );
    assert.match(
      res.stderr,
      new RegExp(
        `could not install node@${fallbackMajor}; install Node ${fallbackMajor} \\(or any Node that satisfies package.json engines.node\\) and put it first on PATH\\n$`,
      ),
    );
    assert.deepEqual(readdirSync(join(dir, 'cache/kratos-gateway')), []);
  });

  it('refuses an engines.node it cannot compare instead of guessing', async () => {
    const dir = repoCopy('^22.14 || >=24');
    dirs.push(dir);
    const res = await run(dir, ['-e', 'console.log("ran")'], { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` });
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, 'scripts/node.sh: package.json engines.node "^22.14 || >=24" is not of the form >=X.Y.Z\n');
  });
});
