/**
 * Starts the quickstart exactly as `npm start` would (main.ts with config/gateway.yaml), but
 * on free loopback ports and with a throw-away data directory, all through the documented
 * KRATOS_GATEWAY_* environment overrides.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from '../../helpers/servers.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const READY_TIMEOUT_MS = 60_000;

export interface Stack {
  /** The gateway, as a browser opens it. */
  baseUrl: string;
  /** The embedded identity server's admin API (identities, courier messages). */
  identityAdminUrl: string;
  /** Everything the process printed, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode} before it was ready:\n${output()}`);
    try {
      const res = await request(url, { signal: AbortSignal.timeout(2_000) });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`gateway not ready at ${url} after ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

export async function startStack(): Promise<Stack> {
  const [proxy, admin, kratosPublic, kratosAdmin, demo] = (await distinctPorts(5)) as [number, number, number, number, number];
  const dataDir = await mkdtemp(join(tmpdir(), 'kratos-gateway-e2e-'));
  const baseUrl = `http://127.0.0.1:${proxy}`;
  const demoUrl = `http://127.0.0.1:${demo}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KRATOS_GATEWAY_PROXY__LISTEN__PORT: String(proxy),
    KRATOS_GATEWAY_PROXY__PUBLIC_BASE_URL: baseUrl,
    KRATOS_GATEWAY_PROXY__SHUTDOWN_GRACE_MS: '200',
    KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(admin),
    KRATOS_GATEWAY_EMBEDDED_KRATOS__PUBLIC_LISTEN__PORT: String(kratosPublic),
    KRATOS_GATEWAY_EMBEDDED_KRATOS__ADMIN_LISTEN__PORT: String(kratosAdmin),
    KRATOS_GATEWAY_EMBEDDED_KRATOS__DSN: `sqlite://${join(dataDir, 'kratos.sqlite')}`,
    KRATOS_GATEWAY_DEMO_UPSTREAM__LISTEN__PORT: String(demo),
    KRATOS_GATEWAY_ROUTES__0__UPSTREAM: demoUrl,
    KRATOS_GATEWAY_ROUTES__1__UPSTREAM: demoUrl,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', 'config/gateway.yaml'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log += chunk.toString('utf8');
    // Keep the tail only: a long scenario logs every request.
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const output = () => log;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await waitReady(`http://127.0.0.1:${admin}/health/ready`, child, output);
  } catch (err) {
    await close();
    throw err;
  }
  return { baseUrl, identityAdminUrl: `http://127.0.0.1:${kratosAdmin}`, output, close };
}
