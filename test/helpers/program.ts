/**
 * Starts a server program (nginx, Caddy) as a child process on a free loopback port and waits
 * until it accepts connections, or has exited. The port is probed first and may be taken before
 * the program binds it: then a new port is tried.
 */
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './servers.js';

/** Whether something accepts TCP connections on the loopback port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface ProgramSpec {
  name: string;
  /** Writes the configuration for `port` and spawns the program, stdout and stderr piped (or ignored). */
  spawnAt(port: number): ChildProcess;
  /** The signal that makes it shut down cleanly. */
  stopSignal: NodeJS.Signals;
  /** What its output says when the port was taken. */
  portTaken: RegExp;
}

export interface RunningProgram {
  port: number;
  /** Everything it wrote to stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

export async function startOnFreePort(spec: ProgramSpec): Promise<RunningProgram> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spec.spawnAt(port);
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    let done = false;
    const exited = new Promise<number | null>((r) =>
      child.once('exit', (code) => {
        done = true;
        r(code);
      }),
    );
    // Bounded: a start that hangs is an error, not a test that never ends.
    for (let i = 0; !done && !(await canConnect(port)); i++) {
      if (i > 2_000) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`${spec.name} did not listen on ${port}: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!done) {
      return {
        port,
        output: () => output,
        async stop() {
          if (!done) {
            child.kill(spec.stopSignal);
            await exited;
          }
        },
      };
    }
    if (attempt < 3 && spec.portTaken.test(output)) continue;
    throw new Error(`${spec.name} did not start (exit ${await exited}): ${output}`);
  }
}
