/**
 * A gateway with proxy.workers > 1 as a real process tree (primary + workers), in front of its
 * embedded identity server and an echo upstream, with helpers that open a new connection per
 * request: the primary hands each new connection to the next worker, so a burst of them
 * reaches every worker.
 */
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { freePort } from '../../helpers/servers.js';

export const MOUNT = '/.ory/kratos/public';
export const PASSWORD = 'correct horse battery staple 9';

export interface WorkersSetup {
  dir: string;
  file: string;
  proxyPort: number;
  adminPort: number;
  proxy: string;
  admin: string;
  write(extra?: Record<string, unknown>): void;
  cleanup(): void;
}

/** A directory with the quickstart kratos.yml and a gateway file (embedded identity server, `routes`). */
export async function workersSetup(
  workers: number | 'auto',
  routes: unknown[],
  extra: Record<string, unknown> = {},
): Promise<WorkersSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-workers-'));
  writeFileSync(join(dir, 'kratos.yml'), readFileSync(resolve('config/kratos.yml')));
  writeFileSync(join(dir, 'identity.schema.json'), readFileSync(resolve('config/identity.schema.json')));
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'gateway.yaml');
  // Written beside and renamed into place: the gateway's file watcher never reads half a file.
  const write = (more: Record<string, unknown> = {}) => {
    writeFileSync(
      file + '.tmp',
      stringify({
        proxy: { listen: { host: '127.0.0.1', port: proxyPort }, public_base_url: `http://127.0.0.1:${proxyPort}`, workers },
        admin: { listen: { host: '127.0.0.1', port: adminPort } },
        kratos: { mount_prefix: MOUNT },
        ui: { enabled: false },
        embedded_kratos: {
          enabled: true,
          config_file: 'kratos.yml',
          dsn: 'sqlite://:memory:',
          public_listen: { host: '127.0.0.1', port: 0 },
          admin_listen: { host: '127.0.0.1', port: 0 },
        },
        routes,
        ...extra,
        ...more,
      }),
    );
    renameSync(file + '.tmp', file);
  };
  write();
  return {
    dir,
    file,
    proxyPort,
    adminPort,
    proxy: `http://127.0.0.1:${proxyPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    write,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function startWorkersGateway(s: WorkersSetup): GatewayProcess {
  return spawnGateway(['--config', s.file]);
}

/** One request on a connection of its own (closed after it). */
export function fresh(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const length = init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) };
    const headers = { connection: 'close', ...length, ...init.headers };
    const req = httpRequest(url, { method: init.method ?? 'GET', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** `n` requests one after the other, each on a new connection; their statuses. */
export async function freshStatuses(n: number, url: string, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await fresh(url, { headers })).status);
  return out;
}

/** The value of one series in a Prometheus text exposition (0 when absent). */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export async function metrics(admin: string): Promise<string> {
  return (await fresh(admin + '/metrics')).body;
}

/** Parsed JSON log lines of a process's stdout with this `msg`. */
export function logLines(stdout: string, msg: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.msg === msg);
}

/** Signs up through the gateway's Kratos mount (API flow); returns the session token. */
export async function register(proxy: string, email: string): Promise<string> {
  const init = await fresh(`${proxy}${MOUNT}/self-service/registration/api`, { headers: { accept: 'application/json' } });
  const flow = JSON.parse(init.body) as { id: string };
  const submit = await fresh(`${proxy}${MOUNT}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ method: 'password', password: PASSWORD, traits: { email } }),
  });
  if (submit.status !== 200) throw new Error(`registration answered ${submit.status}: ${submit.body}`);
  return (JSON.parse(submit.body) as { session_token: string }).session_token;
}
