/**
 * Runs Debian's nginx as a child process with everything (config, pid, logs, temp files)
 * in a temporary directory and a free loopback port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';

import { freePort } from '../../helpers/servers.js';
import { startOnFreePort } from '../../helpers/program.js';

export { freePort };

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** config/examples/nginx/auth_request.conf as shipped. */
export const NGINX_EXAMPLE = readFileSync(join(root, 'config/examples/nginx/auth_request.conf'), 'utf8');

/** Replaces exactly one occurrence, so the test notices when the example changes shape. */
export function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  assert.equal(parts.length, 2, `the example contains "${from}" exactly once`);
  return parts.join(to);
}

/**
 * The example pointed at a running gateway's admin listener and an upstream, listening on
 * `port`: its two upstream addresses and its listen port replaced, nothing else.
 */
export function exampleConfig(example: string, adminUrl: string, appUrl: string, port: number): string {
  let conf = replaceOnce(example, 'server 127.0.0.1:4456;', `server 127.0.0.1:${new URL(adminUrl).port};`);
  conf = replaceOnce(conf, 'server 127.0.0.1:8080;', `server 127.0.0.1:${new URL(appUrl).port};`);
  return replaceOnce(conf, 'listen 127.0.0.1:8000;', `listen 127.0.0.1:${port};`);
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Raw-path HTTP client (no URL normalization), so dot segments reach nginx as sent. */
export function send(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RunningNginx {
  url: string;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * `serverConfig(port)` returns the http-level configuration (upstreams, maps, server
 * blocks) for a given listen port.
 */
export async function startNginx(serverConfig: (port: number) => string): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-nginx-'));
  // Worker processes run as an unprivileged user when the tests run as root.
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  try {
    const nginx = await startOnFreePort({
      name: 'nginx',
      stopSignal: 'SIGQUIT',
      portTaken: /Address already in use/,
      spawnAt(port) {
        writeFileSync(
          conf,
          [
            'worker_processes 1;',
            `error_log ${join(dir, 'error.log')} info;`,
            'events { worker_connections 128; }',
            'http {',
            `  access_log ${join(dir, 'access.log')};`,
            `  client_body_temp_path ${join(dir, 'client_body')};`,
            `  proxy_temp_path ${join(dir, 'proxy')};`,
            `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
            `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
            `  scgi_temp_path ${join(dir, 'scgi')};`,
            `  include ${join(dir, 'site.conf')};`,
            '}',
            '',
          ].join('\n'),
        );
        writeFileSync(join(dir, 'site.conf'), serverConfig(port));
        return spawn(NGINX, ['-p', dir, '-c', conf, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
      },
    });
    return {
      url: `http://127.0.0.1:${nginx.port}`,
      dir,
      errorLog: () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''),
      async stop() {
        await nginx.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
