/**
 * The container image's command, run from a clean production install, without Docker:
 * package.json + package-lock.json + .npmrc into an empty directory, `npm ci --omit=dev`
 * (nothing compiles: better-sqlite3 loads its prebuilt Node-API binary), the compiled dist/ and
 * config/ next to it (what the Dockerfile's runtime stage copies), then exactly the
 * Dockerfile's ENTRYPOINT + CMD with its ENV, pointed at a whoami test server and an echo
 * upstream through environment overrides. One authenticated request goes through, the
 * image's HEALTHCHECK script passes against it, and SIGTERM drains and exits 0. The same
 * install also runs the quickstart configuration (`--config config/gateway.yaml`, embedded
 * identity server and demo app), as `docker run IMAGE --config config/gateway.yaml` would.
 * It runs on the Node that runs the suite, not inside the image: CI runs it on Node 22, 24 and
 * 26, the image's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';
import { envOf, parseDockerfile, stages } from '../../unit/deploy/dockerfile-parse.js';
import { freePort } from './nginx.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      done({ code: typeof code === 'number' ? code : null, output: stdout + stderr });
    });
  });
}

const runtime = (() => {
  const all = stages(parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8')));
  return all[all.length - 1]!;
})();
const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.json!;
const cmd = runtime.instructions.find((i) => i.keyword === 'CMD')!.json!;
const imageEnv = envOf(runtime.instructions);
const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.json!;

/** The image's command (or another config) in the install directory, with the image's ENV plus `env`. */
function startImageCommand(dir: string, env: NodeJS.ProcessEnv, args: string[] = cmd) {
  const [node, ...entryArgs] = entrypoint;
  assert.equal(node, 'node');
  const child = spawn(process.execPath, [...entryArgs, ...args], {
    cwd: dir,
    env: {
      PATH: process.env['PATH'],
      ...Object.fromEntries(imageEnv),
      // The image binds 0.0.0.0; on a shared test machine loopback is enough.
      KRATOS_GATEWAY_PROXY__LISTEN__HOST: '127.0.0.1',
      KRATOS_GATEWAY_ADMIN__LISTEN__HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { stderr: '', stopped: false };
  child.stdout?.resume();
  child.stderr?.on('data', (c: Buffer) => (state.stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      state.stopped = true;
      r({ code, signal });
    }),
  );
  return {
    child,
    exited,
    state,
    /** Ready = listening and not draining. Bounded so a broken start fails instead of hanging. */
    async ready(adminPort: number) {
      for (let i = 0; ; i++) {
        assert.ok(!state.stopped, `the gateway exited during start-up:\n${state.stderr}`);
        const ok = await fetch(`http://127.0.0.1:${adminPort}/health/ready`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        assert.ok(i < 600, `the gateway did not become ready:\n${state.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      if (!state.stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

describe('the image command from a clean production install', { timeout: 20 * 60_000 }, () => {
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kg-prod-install-'));
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(root, f), join(dir, f));
    const install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], dir);
    assert.equal(install.code, 0, `npm ci --omit=dev failed:\n${install.output}`);
    const build = await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')],
      root,
    );
    assert.equal(build.code, 0, `tsc failed:\n${build.output}`);
    // The runtime stage copies config/; .dockerignore leaves config/examples out.
    cpSync(join(root, 'config'), join(dir, 'config'), { recursive: true, filter: (src) => !src.startsWith(join(root, 'config/examples')) });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installed production dependencies only, with the native module prebuilt (no compiler used)', () => {
    assert.ok(existsSync(join(dir, 'node_modules/better-sqlite3/package.json')));
    assert.ok(existsSync(join(dir, 'node_modules/better-sqlite3/prebuilds')));
    // node-gyp's output directory, which better-sqlite3 would load instead of its prebuilt binary.
    assert.equal(existsSync(join(dir, 'node_modules/better-sqlite3/build')), false, 'better-sqlite3 was compiled');
    for (const dev of ['typescript', 'tsx', 'dockerfile-utils', 'kubernetes-models']) {
      assert.equal(existsSync(join(dir, 'node_modules', dev)), false, `${dev} is a dev dependency`);
    }
    assert.ok(existsSync(join(dir, entrypoint[1]!)), `${entrypoint[1]} was built`);
  });

  describe('default CMD (config/production.yaml) against a Kratos and an upstream', () => {
    let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
    let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
    let gateway: ReturnType<typeof startImageCommand>;
    let proxyUrl: string;
    let adminPort: number;

    before(async () => {
      kratos = await startFakeKratos();
      upstream = await startEchoUpstream();
      const proxyPort = await freePort();
      adminPort = await freePort();
      proxyUrl = `http://127.0.0.1:${proxyPort}`;
      gateway = startImageCommand(dir, {
        KRATOS_GATEWAY_PROXY__LISTEN__PORT: String(proxyPort),
        KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(adminPort),
        KRATOS_GATEWAY_PROXY__PUBLIC_BASE_URL: proxyUrl,
        KRATOS_GATEWAY_KRATOS__PUBLIC_URL: kratos.url,
        KRATOS_GATEWAY_ROUTES__0__UPSTREAM: upstream.url,
      });
      await gateway.ready(adminPort);
    });

    after(async () => {
      await gateway?.kill();
      await upstream?.close();
      await kratos?.close();
    });

    it('an authenticated request goes through to the upstream with the identity header', async () => {
      const alice = kratos.addSession({ traits: { email: 'alice@example.com' } });
      const res = await fetch(`${proxyUrl}/orders/42`, {
        headers: { 'x-session-token': alice.token, 'x-kratos-authenticated-identity-id': 'spoofed' },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const rec = upstream.received.find((r) => r.url === '/orders/42');
      assert.ok(rec, 'the upstream saw the request');
      assert.equal(rec.headers['x-kratos-authenticated-identity-id'], alice.identityId);
      assert.equal(rec.headers['x-user-email'], 'alice@example.com');
    });

    it('an unauthenticated API request is refused with 401', async () => {
      const res = await fetch(`${proxyUrl}/orders/43`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, 401);
      await res.body?.cancel();
      assert.equal(
        upstream.received.some((r) => r.url === '/orders/43'),
        false,
      );
    });

    it("the image's HEALTHCHECK command passes against the running gateway", async () => {
      const [node, ...args] = healthcheck;
      assert.equal(node, 'node');
      const check = await run(process.execPath, args, dir, {
        PATH: process.env['PATH'],
        KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(adminPort),
      });
      assert.equal(check.code, 0, check.output);
    });

    it('SIGTERM drains and exits 0', async () => {
      assert.ok(gateway.child.kill('SIGTERM'));
      const { code, signal } = await gateway.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, gateway.state.stderr);
    });
  });

  describe('--config config/gateway.yaml (the quickstart) from the same install', () => {
    let gateway: ReturnType<typeof startImageCommand>;
    let proxyUrl: string;

    before(async () => {
      // In the image ./data is /app/data -> /var/lib/kratos-gateway, the one writable directory.
      mkdirSync(join(dir, 'data'), { recursive: true });
      const [proxy, admin, kratosPublic, kratosAdmin, demo] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      proxyUrl = `http://127.0.0.1:${proxy}`;
      const demoUrl = `http://127.0.0.1:${demo}`;
      gateway = startImageCommand(
        dir,
        {
          KRATOS_GATEWAY_PROXY__LISTEN__PORT: String(proxy),
          KRATOS_GATEWAY_PROXY__PUBLIC_BASE_URL: proxyUrl,
          KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(admin),
          KRATOS_GATEWAY_EMBEDDED_KRATOS__PUBLIC_LISTEN__PORT: String(kratosPublic),
          KRATOS_GATEWAY_EMBEDDED_KRATOS__ADMIN_LISTEN__PORT: String(kratosAdmin),
          KRATOS_GATEWAY_DEMO_UPSTREAM__LISTEN__PORT: String(demo),
          KRATOS_GATEWAY_ROUTES__0__UPSTREAM: demoUrl,
          KRATOS_GATEWAY_ROUTES__1__UPSTREAM: demoUrl,
        },
        ['--config', 'config/gateway.yaml'],
      );
      await gateway.ready(admin);
    });

    after(async () => {
      await gateway?.kill();
    });

    it('starts with the embedded identity server, sends a browser to login, and exits 0 on SIGTERM', async () => {
      const res = await fetch(`${proxyUrl}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      assert.equal(res.status, 302);
      await res.body?.cancel();
      assert.ok(existsSync(join(dir, 'data', 'kratos.sqlite')), 'the identity store is in ./data');
      assert.ok(gateway.child.kill('SIGTERM'));
      const { code } = await gateway.exited;
      assert.equal(code, 0, gateway.state.stderr);
    });
  });
});
