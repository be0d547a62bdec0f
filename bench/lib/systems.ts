/**
 * The systems under test. Each runs in its own process on its own loopback port, in front
 * of the same upstream and the same Kratos.
 */
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { BENCH_DIR, freePort, rssOf, startExternal, startNode } from './proc.js';

export type SystemId = 'direct' | 'floor' | 'kg' | 'kg-nolog' | 'kg-nocache' | 'baseline' | 'nginx-cache' | 'nginx' | 'caddy';

export const SYSTEM_LABELS: Record<SystemId, string> = {
  direct: 'direct to upstream',
  floor: 'floor: node:http + undici, no auth',
  kg: 'kratos-gateway (production config)',
  'kg-nolog': 'kratos-gateway, access log off',
  'kg-nocache': 'kratos-gateway, session cache off',
  baseline: 'express 5 + http-proxy-3 + lru-cache',
  'nginx-cache': 'nginx auth_request + proxy_cache',
  nginx: 'nginx auth_request, no cache',
  caddy: 'Caddy forward_auth',
};

export interface RunningSystem {
  id: SystemId;
  url: string;
  /** The process whose RSS is reported (nginx: master + workers). */
  pid: number;
  adminUrl?: string;
  /** whoami calls the system itself reports, when it can (kratos-gateway's /metrics). */
  memory?(): Promise<{ rss: number; heapUsed: number; entries: number; cacheBytes?: number; gcForced: boolean }>;
  /** kratos-gateway: memory and cache entries now, without forcing a GC. */
  stats?(): Promise<{ rss: number; heapUsed: number; entries: number }>;
  rss(): number;
  stop(): Promise<void>;
}

export interface SystemEnv {
  upstreamUrl: string;
  upstreamPort: number;
  kratosUrl: string;
  kratosPort: number;
  /** nginx worker_processes and Caddy GOMAXPROCS. */
  peerCpus: number;
  /** Extra node flags for kratos-gateway (e.g. --cpu-prof). */
  gatewayExecArgv?: string[];
  /** Extra environment for kratos-gateway (e.g. OTEL_* to turn tracing on). */
  gatewayEnv?: NodeJS.ProcessEnv;
  /**
   * Merged into kratos-gateway's configuration: session_cache keys and identity_headers (the memory
   * soak); an h2c route to this gRPC server instead of the HTTP upstream (the grpc scenario).
   */
  gatewayConfig?: { sessionCache?: Record<string, unknown>; identityHeaders?: Record<string, string>; grpcUpstreamUrl?: string };
}

function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    if (!(k in vars)) throw new Error(`template variable ${k} not set`);
    return String(vars[k]);
  });
}

export function peerVersions(): { nginx?: string; caddy?: string } {
  const out: { nginx?: string; caddy?: string } = {};
  const n = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (n.status === 0) out.nginx = (n.stderr || n.stdout).trim().replace(/^nginx version: /, '');
  const c = spawnSync('caddy', ['version'], { encoding: 'utf8' });
  if (c.status === 0) out.caddy = 'caddy ' + c.stdout.trim().split(' ')[0];
  return out;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A peer started from Debian (nginx, Caddy) in its own temp directory, removed when it stops. */
function externalSystem(id: SystemId, port: number, ext: { pid: number; stop(): Promise<void> }, prefix: string): RunningSystem {
  return {
    id,
    url: `http://127.0.0.1:${port}`,
    pid: ext.pid,
    rss: () => rssOf(ext.pid),
    stop: async () => {
      await ext.stop();
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

export async function startSystem(id: SystemId, env: SystemEnv): Promise<RunningSystem> {
  switch (id) {
    case 'direct':
      return { id, url: env.upstreamUrl, pid: 0, rss: () => 0, stop: async () => {} };
    case 'kg':
    case 'kg-nolog':
    case 'kg-nocache': {
      const child = await startNode<{ url: string; adminUrl: string }>(
        'systems/gateway.ts',
        [
          JSON.stringify({
            kratosUrl: env.kratosUrl,
            upstreamUrl: env.upstreamUrl,
            cache: id !== 'kg-nocache',
            accessLog: id !== 'kg-nolog',
            ...env.gatewayConfig,
          }),
        ],
        { execArgv: ['--expose-gc', ...(env.gatewayExecArgv ?? [])], ...(env.gatewayEnv ? { env: env.gatewayEnv } : {}) },
      );
      return {
        id,
        url: child.ready.url,
        adminUrl: child.ready.adminUrl,
        pid: child.pid,
        memory: () => child.ask({ op: 'memory' }),
        stats: () => child.ask({ op: 'stats' }),
        rss: () => rssOf(child.pid),
        stop: () => child.stop(),
      };
    }
    case 'floor': {
      const child = await startNode<{ url: string }>('servers/floor-proxy.ts', [JSON.stringify({ upstreamUrl: env.upstreamUrl })]);
      return { id, url: child.ready.url, pid: child.pid, rss: () => rssOf(child.pid), stop: () => child.stop() };
    }
    case 'baseline': {
      const child = await startNode<{ url: string }>(
        'baseline/server.ts',
        [JSON.stringify({ kratosUrl: env.kratosUrl, upstreamUrl: env.upstreamUrl })],
        { execArgv: ['--expose-gc'] },
      );
      return { id, url: child.ready.url, pid: child.pid, rss: () => rssOf(child.pid), stop: () => child.stop() };
    }
    case 'nginx':
    case 'nginx-cache': {
      const cache = id === 'nginx-cache' ? readFileSync(BENCH_DIR + 'peers/nginx-auth-cache.conf.tmpl', 'utf8') : '';
      return startNginx(id, 'nginx.conf.tmpl', env.peerCpus, (prefix) => ({
        UPSTREAM_PORT: env.upstreamPort,
        KRATOS_PORT: env.kratosPort,
        CACHE_PATH:
          id === 'nginx-cache' ? `proxy_cache_path ${prefix}/auth_cache levels=1:2 keys_zone=auth:10m max_size=64m inactive=60s;` : '',
        AUTH_CACHE: cache,
      }));
    }
    case 'caddy':
      return startCaddy(id, 'Caddyfile.tmpl', env.peerCpus, { UPSTREAM_PORT: env.upstreamPort, KRATOS_PORT: env.kratosPort });
  }
}

/**
 * nginx from `bench/peers/<template>` in a temp directory of its own; the template gets PREFIX,
 * PORT and WORKERS besides what `vars(prefix)` returns.
 */
export async function startNginx(
  id: SystemId,
  template: string,
  workers: number,
  vars: (prefix: string) => Record<string, string | number>,
): Promise<RunningSystem> {
  const prefix = mkdtempSync(join(tmpdir(), `bench-${id}-`));
  // Run as root, nginx's workers drop to `nobody`: they must be able to write the temp and cache dirs.
  chmodSync(prefix, 0o755);
  for (const d of ['client_body', 'proxy_temp', 'fastcgi_temp', 'uwsgi_temp', 'scgi_temp', 'auth_cache']) {
    mkdirSync(join(prefix, d));
    chmodSync(join(prefix, d), 0o777);
  }
  const port = await freePort();
  const conf = fill(readFileSync(BENCH_DIR + 'peers/' + template, 'utf8'), {
    PREFIX: prefix,
    PORT: port,
    WORKERS: workers,
    ...vars(prefix),
  });
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const ext = await startExternal('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], port);
  return externalSystem(id, port, ext, prefix);
}

/** Caddy from `bench/peers/<template>` in a temp directory of its own (PREFIX and PORT filled in), GOMAXPROCS=`cpus`. */
export async function startCaddy(
  id: SystemId,
  template: string,
  cpus: number,
  vars: Record<string, string | number>,
): Promise<RunningSystem> {
  const prefix = mkdtempSync(join(tmpdir(), `bench-${id}-`));
  const port = await freePort();
  const conf = fill(readFileSync(BENCH_DIR + 'peers/' + template, 'utf8'), { PREFIX: prefix, PORT: port, ...vars });
  writeFileSync(join(prefix, 'Caddyfile'), conf);
  const ext = await startExternal('caddy', ['run', '--config', join(prefix, 'Caddyfile'), '--adapter', 'caddyfile'], port, {
    HOME: prefix,
    XDG_DATA_HOME: join(prefix, 'data'),
    XDG_CONFIG_HOME: join(prefix, 'config'),
    GOMAXPROCS: String(cpus),
  });
  return externalSystem(id, port, ext, prefix);
}
