/**
 * Child processes for the harness: every system under test, every helper server and the
 * load generator run in their own process, so none of them shares an event loop with
 * another. Node children are forked with tsx and report `{ ready: … }` over IPC.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface NodeChild<R = unknown> {
  pid: number;
  child: ChildProcess;
  ready: R;
  /** Sends a request over IPC and resolves with the child's answer to it. */
  ask<T = unknown>(msg: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

let nextAskId = 1;

/** Forks `bench/<script>` with tsx; resolves once the child sends `{ ready }`. */
export function startNode<R = unknown>(
  script: string,
  args: string[] = [],
  opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number; quiet?: boolean } = {},
): Promise<NodeChild<R>> {
  const child = fork(BENCH_DIR + script, args, {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.quiet === false ? 'inherit' : 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const pending = new Map<number, (v: unknown) => void>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not become ready: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before ready: ${stderr}`));
    });
    child.on('message', (m: { ready?: R; answer?: unknown; id?: number }) => {
      if (m.id !== undefined && pending.has(m.id)) {
        pending.get(m.id)!(m.answer);
        pending.delete(m.id);
        return;
      }
      if (m.ready === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        pid: child.pid!,
        child,
        ready: m.ready,
        ask<T>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
          const id = nextAskId++;
          return new Promise<T>((res, rej) => {
            const t = setTimeout(() => {
              pending.delete(id);
              rej(new Error(`${script}: no answer to ${JSON.stringify(msg)}`));
            }, timeoutMs);
            pending.set(id, (v) => {
              clearTimeout(t);
              res(v as T);
            });
            child.send({ ...msg, id });
          });
        },
        stop: () => stopChild(child),
      });
    });
  });
}

/** SIGTERM, then SIGKILL after 5 s. Only ever the one child we started. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Child-side helper: announce readiness and answer `ask` requests. */
export function serveIpc(ready: unknown, handlers: Record<string, (msg: Record<string, unknown>) => unknown> = {}): void {
  process.on('message', async (m: Record<string, unknown> & { id?: number; op?: string }) => {
    const h = m.op === undefined ? undefined : handlers[m.op];
    const answer = h ? await h(m) : { error: `unknown op ${String(m.op)}` };
    process.send?.({ id: m.id, answer });
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready });
}

export interface External {
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
  output(): string;
}

/** Starts a non-node program (nginx, caddy) and waits until `port` accepts connections. */
export async function startExternal(cmd: string, args: string[], port: number, env: NodeJS.ProcessEnv = {}): Promise<External> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited ${child.exitCode}: ${out}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} did not listen on ${port}: ${out}`);
    }
    await sleep(50);
  }
  return { pid: child.pid!, child, stop: () => stopChild(child), output: () => out };
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resident set size in bytes of `pid` and (for nginx's workers) its descendants. */
export function rssOf(pid: number, withChildren = true): number {
  let total = readRss(pid);
  if (!withChildren) return total;
  for (const child of childrenOf(pid)) total += rssOf(child, true);
  return total;
}

function readRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Samples RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let peak = rssOf(pid);
  const t = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rssOf(pid));
    },
  };
}

/** A free loopback port (bound then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) used so far by `pid` and its live descendants. */
export function cpuSeconds(pid: number, withChildren = true): number {
  if (pid <= 0) return 0;
  let total: number;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total = (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
  if (withChildren) for (const c of childrenOf(pid)) total += cpuSeconds(c, true);
  return total;
}

/** Whole-machine CPU seconds busy and in total (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/**
 * Waits (at most `maxMs`) until the machine is quiet — less than `threshold` of all cores busy
 * over a 500 ms window — so a measurement does not start on top of someone else's build.
 * Returns the busy fraction last seen.
 */
export async function waitForQuiet(maxMs: number, threshold = 0.15): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const a = machineCpu();
    await sleep(500);
    const b = machineCpu();
    const busy = (b.busy - a.busy) / Math.max(0.001, b.total - a.total);
    if (busy < threshold || Date.now() >= deadline) return busy;
  }
}
