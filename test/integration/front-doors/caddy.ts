/**
 * Runs Debian's Caddy as a child process with everything it writes (autosaved config,
 * storage) in a temporary directory, on a free loopback port, with its admin endpoint off.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readExample } from '../../helpers/front-doors.js';
import { startOnFreePort } from '../../helpers/program.js';
import { replaceOnce } from '../deploy/nginx.js';

export const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((p) => existsSync(p)) ?? 'caddy';

/** config/examples/caddy/Caddyfile as shipped. */
export const CADDY_EXAMPLE = readExample('caddy/Caddyfile');

/**
 * The example pointed at a running gateway's admin listener and an upstream, serving plain
 * HTTP on `port`: its site address and its two upstream addresses replaced, nothing else.
 * The global options only keep Caddy off ports and files other than the test's.
 */
export function caddyConfig(example: string, adminUrl: string, appUrl: string, port: number): string {
  let conf = replaceOnce(example, 'app.example.com {', `http://127.0.0.1:${port} {`);
  conf = replaceOnce(conf, 'kratos-gateway-admin.gateway.svc.cluster.local:4456', new URL(adminUrl).host);
  conf = replaceOnce(conf, 'app.apps.svc.cluster.local:8080', new URL(appUrl).host);
  // No admin API on :2019, no certificates, no HTTP/3 (a UDP port the test did not probe).
  return ['{', '\tadmin off', '\tauto_https off', '\tservers {', '\t\tprotocols h1', '\t}', '}', '', conf].join('\n');
}

export interface RunningCaddy {
  url: string;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Caddy with `config(port)`. */
export async function startCaddy(config: (port: number) => string): Promise<RunningCaddy> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-caddy-'));
  const file = join(dir, 'Caddyfile');
  try {
    const caddy = await startOnFreePort({
      name: 'caddy',
      stopSignal: 'SIGTERM',
      portTaken: /address already in use/,
      spawnAt(port) {
        writeFileSync(file, config(port));
        return spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], {
          // Caddy keeps its autosave and storage under these; never the user's home.
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: dir,
            XDG_DATA_HOME: join(dir, 'data'),
            XDG_CONFIG_HOME: join(dir, 'config'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      },
    });
    return {
      url: `http://127.0.0.1:${caddy.port}`,
      log: caddy.output,
      async stop() {
        await caddy.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
