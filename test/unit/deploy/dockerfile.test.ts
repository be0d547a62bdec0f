/**
 * The container image, checked without a Docker engine: dockerfile-utils lints the
 * Dockerfile (the same validator editors use), then the tests read the parsed
 * instructions for what the linter does not know about this project: a non-root user,
 * a curl-free HEALTHCHECK, stage references, ports equal to the configuration defaults,
 * the entrypoint and config file the image runs, and a .dockerignore that lets in exactly
 * what the build copies. The HEALTHCHECK script itself is run against a test server in
 * test/integration/deploy/dockerfile-healthcheck.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { parseDockerfile, stages, envOf, type Instruction } from './dockerfile-parse.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const allStages = stages(instructions);
const runtime = allStages[allStages.length - 1];
if (!runtime) throw new Error('Dockerfile has no FROM');
const only = (list: Instruction[], keyword: string) => list.filter((i) => i.keyword === keyword);
const defaults = configSchema.parse({});
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  engines: { node: string };
  allowScripts: Record<string, boolean>;
};

describe('Dockerfile lint (dockerfile-utils)', () => {
  it('has no error or warning diagnostics', () => {
    const diagnostics = validate(dockerfile);
    // LSP severities: 1 = error, 2 = warning.
    const bad = diagnostics.filter((d) => d.severity === 1 || d.severity === 2);
    assert.deepEqual(
      bad.map((d) => `${d.range.start.line + 1}: ${d.message}`),
      [],
    );
  });

  it('the linter itself rejects a broken HEALTHCHECK (so a clean result means something)', () => {
    const broken = dockerfile.replace(/HEALTHCHECK[\s\S]*?\n(?=\n)/, 'HEALTHCHECK CMD\n');
    assert.notEqual(broken, dockerfile);
    assert.ok(validate(broken).some((d) => d.severity === 1));
  });
});

describe('Dockerfile stages', () => {
  it('is multi-stage, with unique stage names, on a Node the project supports', () => {
    assert.ok(allStages.length >= 2);
    const names = allStages.map((s) => s.name).filter((n): n is string => n !== undefined);
    assert.equal(new Set(names).size, names.length);
    for (const s of allStages) assert.equal(s.image, 'node:26-bookworm-slim');
    const engines = pkg.engines.node;
    const min = /^>=(\d+)/.exec(engines)?.[1];
    assert.ok(min !== undefined && 26 >= Number(min), `Node 26 satisfies engines ${engines}`);
  });

  it('builds and prunes dev dependencies without a compiler in any stage', () => {
    const build = allStages.find((s) => s.name === 'build');
    assert.ok(build);
    const runs = only(build.instructions, 'RUN')
      .map((r) => r.raw)
      .join('\n');
    assert.match(runs, /npm ci/);
    assert.match(runs, /npm run build/);
    assert.match(runs, /npm prune --omit=dev/);
    const allRuns = only(instructions, 'RUN')
      .map((r) => r.raw)
      .join('\n');
    assert.doesNotMatch(allRuns, /g\+\+|apt-get install/);
  });

  it('needs no compiler: no production dependency runs an install script', () => {
    // What a compiler was needed for: a native module built on install. The lockfile marks every
    // package with an install script; only approved dev-only ones (pruned from the image) may have one.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
    };
    const scripted = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript);
    assert.ok(scripted.length > 0, 'the lockfile records install scripts (esbuild has one)');
    for (const [path, p] of scripted) {
      assert.equal(p.dev, true, `${path} runs an install script in a production install`);
      assert.equal(pkg.allowScripts[path.replace(/^.*node_modules\//, '')], true, `${path} is approved in allowScripts`);
    }
    // better-sqlite3 ships a binding.gyp next to its prebuilt binaries; denied, npm never rebuilds it from source.
    assert.equal(pkg.allowScripts['better-sqlite3'], false);
  });

  it('every COPY --from names an earlier stage', () => {
    for (const s of allStages) {
      for (const c of only(s.instructions, 'COPY')) {
        const from = c.flags['from'];
        if (from === undefined) continue;
        const target = allStages.find((t) => t.name === from || String(t.index) === from);
        assert.ok(target, `line ${c.line}: COPY --from=${from} names no stage`);
        assert.ok(target.index < s.index, `line ${c.line}: COPY --from=${from} must name an earlier stage`);
      }
    }
  });

  it('the runtime stage carries only dist/, node_modules, package.json and config/', () => {
    const copied = only(runtime.instructions, 'COPY').map((c) => c.words[c.words.length - 1]?.replace(/^\.\//, '').replace(/\/$/, ''));
    assert.deepEqual(copied.sort(), ['config', 'dist', 'node_modules', 'package.json']);
    for (const c of only(runtime.instructions, 'COPY')) {
      if (c.words[0] === 'config') continue;
      assert.equal(c.flags['from'], 'build', `line ${c.line}: build output comes from the build stage`);
    }
  });
});

describe('Dockerfile runtime', () => {
  it('runs as a fixed non-root numeric user, set before the entrypoint and never reset', () => {
    const users = only(runtime.instructions, 'USER');
    assert.equal(users.length, 1);
    const user = users[0]!;
    const [uid, gid] = user.raw.split(':');
    assert.equal(uid, '10001');
    assert.equal(gid, '10001');
    const entry = only(runtime.instructions, 'ENTRYPOINT')[0];
    assert.ok(entry && user.line < entry.line);
  });

  it('binds both listeners on all interfaces and keeps the ports equal to the config defaults', () => {
    const env = envOf(runtime.instructions);
    assert.equal(env.get('KRATOS_GATEWAY_PROXY__LISTEN__HOST'), '0.0.0.0');
    assert.equal(env.get('KRATOS_GATEWAY_ADMIN__LISTEN__HOST'), '0.0.0.0');
    assert.equal(env.get('KRATOS_GATEWAY_PROXY__LISTEN__PORT'), String(defaults.proxy.listen.port));
    assert.equal(env.get('KRATOS_GATEWAY_ADMIN__LISTEN__PORT'), String(defaults.admin.listen.port));
    assert.equal(env.get('NODE_ENV'), 'production');
  });

  it('EXPOSEs valid ports, exactly the proxy and admin defaults', () => {
    const ports = only(runtime.instructions, 'EXPOSE').flatMap((e) => e.words);
    for (const p of ports) {
      assert.match(p, /^\d+(\/tcp)?$/);
      const n = Number(p.replace('/tcp', ''));
      assert.ok(Number.isInteger(n) && n >= 1 && n <= 65535, `port ${p}`);
    }
    assert.deepEqual(
      ports.map((p) => Number(p.replace('/tcp', ''))).sort(),
      [defaults.proxy.listen.port, defaults.admin.listen.port].sort(),
    );
  });

  it('has a HEALTHCHECK that uses node, not curl or wget, against /health/alive on the admin port', () => {
    const hc = only(runtime.instructions, 'HEALTHCHECK');
    assert.equal(hc.length, 1);
    const args = hc[0]!.json;
    assert.ok(args, 'HEALTHCHECK CMD is in exec form');
    assert.equal(args[0], 'node');
    assert.equal(args[1], '-e');
    assert.doesNotMatch(args.join(' '), /\bcurl\b|\bwget\b/);
    assert.match(args[2] ?? '', /\/health\/alive/);
    assert.match(args[2] ?? '', /KRATOS_GATEWAY_ADMIN__LISTEN__PORT/);
    for (const flag of ['interval', 'timeout', 'start-period', 'retries']) assert.ok(hc[0]!.flags[flag], `--${flag}`);
  });

  it('STOPSIGNAL is SIGTERM and the entrypoint is node in exec form (signals reach the process)', () => {
    assert.deepEqual(
      only(runtime.instructions, 'STOPSIGNAL').map((s) => s.raw),
      ['SIGTERM'],
    );
    assert.deepEqual(only(runtime.instructions, 'ENTRYPOINT')[0]?.json, ['node', 'dist/main.js']);
    const cmd = only(runtime.instructions, 'CMD')[0]?.json;
    assert.ok(cmd);
    assert.equal(cmd[0], '--config');
  });

  it('the CMD config file is in the image and is a valid production configuration', () => {
    const cmd = only(runtime.instructions, 'CMD')[0]!.json!;
    const file = cmd[1]!;
    assert.match(file, /^config\//, 'the file comes from the copied config/ directory');
    const cfg = configSchema.parse(parseYaml(readFileSync(join(root, file), 'utf8')));
    assert.equal(cfg.embedded_kratos.enabled, false);
    assert.equal(cfg.demo_upstream.enabled, false);
    assert.ok(cfg.routes.length > 0);
  });

  it("with the image's ENV the gateway loads that file listening on all interfaces at the EXPOSEd ports", () => {
    const file = only(runtime.instructions, 'CMD')[0]!.json![1]!;
    const env = Object.fromEntries(envOf(runtime.instructions));
    const { config } = loadConfigFile(join(root, file), { ...env, KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://kratos.identity:4433' });
    assert.deepEqual(config.proxy.listen, { host: '0.0.0.0', port: 4455 });
    assert.deepEqual(config.admin.listen, { host: '0.0.0.0', port: 4456 });
    assert.equal(config.kratos.public_url, 'http://kratos.identity:4433');
    // Outside the image the same file stays on loopback.
    assert.equal(loadConfigFile(join(root, file), {}).config.proxy.listen.host, '127.0.0.1');
  });

  it('the ENTRYPOINT script is what `npm run build` produces from src/main.ts', () => {
    const script = only(runtime.instructions, 'ENTRYPOINT')[0]!.json![1]!;
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    assert.equal(script, `${build.compilerOptions.outDir}/main.js`);
    const source = join(root, build.compilerOptions.rootDir, 'main.ts');
    assert.ok(existsSync(source), `${source} exists (compiled to ${script})`);
    assert.equal(pkg.main, script);
    assert.equal(pkg.scripts['build'], 'tsc -p tsconfig.build.json');
  });
});

/** Docker's .dockerignore rules: last matching pattern wins; a pattern also matches a path's parent directories. */
function dockerignoreIncludes(patterns: string[], path: string): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      '^' +
        p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*/g, '\u0000')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replace(/\u0000/g, '.*') +
        '$',
    );
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegex((negate ? raw.slice(1) : raw).replace(/^\/|\/$/g, ''));
    if (prefixes.some((p) => re.test(p))) included = negate;
  }
  return included;
}

describe('.dockerignore', () => {
  const patterns = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('lets in every path the Dockerfile copies from the build context', () => {
    const sources = instructions
      .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && i.flags['from'] === undefined)
      .flatMap((i) => i.words.slice(0, -1));
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(existsSync(join(root, src)), `${src} exists in the repository`);
      assert.ok(dockerignoreIncludes(patterns, src), `${src} is in the build context`);
      if (statSync(join(root, src)).isDirectory()) {
        assert.ok(dockerignoreIncludes(patterns, `${src}/some-file.ts`), `${src}/* is in the build context`);
      }
    }
    assert.ok(dockerignoreIncludes(patterns, 'config/production.yaml'));
  });

  it('keeps local build output, dependencies, data, VCS and test files out', () => {
    for (const p of [
      'node_modules/yaml/package.json',
      'dist/main.js',
      'data/kratos.sqlite',
      '.git/HEAD',
      'test/unit/x.test.ts',
      'helm/kratos-gateway/values.yaml',
      'config/examples/nginx/auth_request.conf',
      '.env',
    ]) {
      assert.equal(dockerignoreIncludes(patterns, p), false, `${p} must not be sent to the builder`);
    }
  });
});
