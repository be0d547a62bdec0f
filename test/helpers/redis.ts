/**
 * A real redis-server (Debian's `redis-server`, provisioned by `npm test`'s pretest) on a free
 * loopback port, with no persistence, for the shared-cache tests. `stop()` and `start()` again
 * keep the port, so a test can take Redis away and bring it back under running gateways.
 * With `tls` the server listens on that port for TLS only (`--port 0 --tls-port`), and the
 * helper's own probe and `command` speak TLS, trusting the given CA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from './servers.js';

export const REDIS_SERVER = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

export interface TestRedis {
  /** The TLS port when started with `tls` (then the only port). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, or `rediss://` with `tls` (no credentials in it either way). */
  readonly url: string;
  /** Starts the server (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server (SIGKILL: like a crash, nothing is flushed); resolves once it has exited. */
  stop(): Promise<void>;
  /** Sends one command through redis-cli-free RESP over a fresh socket and returns the raw reply text. */
  command(...args: string[]): Promise<string>;
}

function resp(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

/** Files for a TLS-only server (`--port 0 --tls-port`); clients are not asked for certificates. */
export interface RedisTlsFiles {
  certFile: string;
  keyFile: string;
  /** The CA that signed certFile: the helper's own client trusts it (and only it). */
  caFile: string;
}

/** The replies of one command, read until the socket has been quiet briefly after the first bytes. */
function send(port: number, args: string[], password?: string, ca?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = ca === undefined ? connect(port, '127.0.0.1') : tlsConnect({ host: '127.0.0.1', port, ca });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      socket.destroy();
      // Drop the AUTH reply when one was sent first.
      resolve(password === undefined ? out : out.replace(/^\+OK\r\n/, ''));
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      out += d;
      clearTimeout(timer);
      timer = setTimeout(done, 30);
    });
    socket.on('error', reject);
    socket.on(ca === undefined ? 'connect' : 'secureConnect', () =>
      socket.write((password === undefined ? '' : resp(['AUTH', password])) + resp(args)),
    );
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]}: no reply`));
    }, 5_000).unref();
  });
}

export async function startRedis(
  options: { requirePass?: string; extraArgs?: string[]; tls?: RedisTlsFiles } = {},
): Promise<TestRedis & { close(): Promise<void> }> {
  const port = await freePort();
  const { tls } = options;
  const ca = tls === undefined ? undefined : readFileSync(tls.caFile);
  let child: ChildProcess | undefined;
  const listen =
    tls === undefined
      ? ['--port', String(port)]
      : [
          ...['--port', '0', '--tls-port', String(port)],
          ...['--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile],
          ...['--tls-auth-clients', 'no'],
        ];
  const args = [
    ...listen,
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    ...(options.requirePass !== undefined ? ['--requirepass', options.requirePass] : []),
    ...(options.extraArgs ?? []),
  ];
  const start = async () => {
    if (child !== undefined) return;
    const c = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', () => {
      if (child === c) child = undefined;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const pong = await send(port, ['PING'], options.requirePass, ca);
        if (pong.startsWith('+PONG')) return;
      } catch {
        // not listening yet
      }
      if (child !== c) throw new Error(`redis-server exited at start: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    const c = child;
    if (c === undefined) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `${tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`,
    start,
    stop,
    close: stop,
    command: (...a: string[]) => send(port, a, options.requirePass, ca),
  };
}
