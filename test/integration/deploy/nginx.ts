/**
 * Runs Debian's nginx as a child process with everything (config, pid, logs, temp files)
 * in a temporary directory and a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';

import { freePort } from '../../helpers/servers.js';

export { freePort };

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
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
 * blocks) for a given listen port. Retries with a new port if the chosen one was taken
 * between probing and nginx binding it.
 */
export async function startNginx(serverConfig: (port: number) => string): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-nginx-'));
  // Worker processes run as an unprivileged user when the tests run as root.
  chmodSync(dir, 0o755);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
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
    const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => (done = true));
    // Wait until nginx accepts connections, or has exited (bounded: a hung start is an error).
    for (let i = 0; ; i++) {
      if (done) break;
      if (await canConnect(port)) break;
      if (i > 2_000) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`nginx did not listen on ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!done) {
      return {
        url: `http://127.0.0.1:${port}`,
        dir,
        errorLog: () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''),
        async stop() {
          if (!done) {
            child.kill('SIGQUIT');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (attempt < 3 && /Address already in use/.test(stderr)) continue;
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start (exit ${await exited}): ${stderr}`);
  }
}
