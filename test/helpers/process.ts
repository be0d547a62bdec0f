/**
 * The gateway as a real process (`node --import tsx src/main.ts …`): what an operator runs,
 * with stdout/stderr captured so tests can read the log lines it really printed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface GatewayProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the captured text once `predicate` holds for it; rejects after `timeoutMs` or if the process exits first. */
  waitFor(stream: 'stdout' | 'stderr', predicate: (text: string) => boolean, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export function spawnGateway(args: string[], env: Record<string, string> = {}): GatewayProcess {
  // Only the variables the test sets: an operator's KRATOS_GATEWAY_* must not leak into tests.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KRATOS_GATEWAY_'))) as Record<string, string>;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...base, ...env }, stdio: 'pipe' });
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout.on('data', (d: Buffer) => {
    out.stdout += d.toString('utf8');
    wake();
  });
  child.stderr.on('data', (d: Buffer) => {
    out.stderr += d.toString('utf8');
    wake();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      // Let the last 'data' events land before anyone reads the output.
      setImmediate(() => {
        resolve(code);
        wake();
      });
    }),
  );
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor(stream, predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting on ${stream}\n--- stdout:\n${out.stdout}\n--- stderr:\n${out.stderr}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(out[stream])) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(out[stream]);
          } else if (exitCode !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`the process exited (${exitCode}) first\n--- stdout:\n${out.stdout}\n--- stderr:\n${out.stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnGateway(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** A start that refuses ends by itself; one that accepts the file is stopped once it says it started (code -1). */
export async function startOrRefusal(file: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const gw = spawnGateway(['--config', file], env);
  const started = await Promise.race([
    gw.exited.then(() => false),
    gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000).then(() => true),
  ]);
  if (started) await gw.stop();
  return { code: started ? -1 : await gw.exited, stderr: started ? `started (and was stopped):\n${gw.stderr()}` : gw.stderr() };
}

/**
 * `validate` and a start of the same file, side by side: both exit 2 with exactly one
 * `config error:` line on stderr, matching `expected`, no stack, and none of `secrets`.
 */
export async function bothRefuse(file: string, expected: RegExp, env: Record<string, string> = {}, secrets: string[] = []): Promise<void> {
  const runs = await Promise.all([runCli(['validate', '--config', file], env), startOrRefusal(file, env)]);
  for (const [i, r] of runs.entries()) {
    const what = i === 0 ? 'validate' : 'start';
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /fatal|^\s+at /m, what);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('config error: '));
    assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
    assert.match(lines[0]!, expected, what);
    for (const s of secrets) assert.ok(!r.stderr.includes(s), `${what}: no key material`);
  }
}

/**
 * Every key of every object in a JSON text, checked for repeats at its own level.
 * JSON.parse silently keeps the last of two equal keys, so this reads the raw text.
 */
export function duplicateJsonKeys(text: string): string[] {
  const duplicates: string[] = [];
  const stack: Array<Set<string> | null> = []; // null: inside an array
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = text.slice(i, j + 1);
      let k = j + 1;
      while (text[k] === ' ') k++;
      const keys = stack[stack.length - 1];
      if (text[k] === ':' && keys) {
        const key = JSON.parse(str) as string;
        if (keys.has(key)) duplicates.push(key);
        keys.add(key);
      }
      i = j + 1;
      continue;
    }
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    i++;
  }
  return duplicates;
}
