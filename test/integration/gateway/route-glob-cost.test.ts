/**
 * A glob's cost on a request path is linear in the path (src/config/glob-match.ts): the path
 * is the attacker's, up to the header size limit, and the route table tests it against every
 * glob more specific than the route that wins. A glob compiled to a backtracking regex with
 * several `**` (each `(?:/[^/]*)*`) tries every way of sharing the path's segments among
 * them before it fails: hours for the path below.
 *
 * Run in a child process: a regex that backtracks cannot be interrupted in-process, so the
 * test would hang rather than fail. The bound is generous (the linear matcher needs
 * milliseconds, the backtracking one far longer than the bound).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const SCRIPT = `
import { RouteTable } from './src/gateway/routing/route-table.ts';
import { configSchema } from './src/config/schema.ts';
const routes = configSchema.parse({
  routes: [
    { name: 'nested', match: { path_glob: '/**/a/**/a/**/a/**/b' }, upstream: 'http://127.0.0.1:9' },
    { name: 'rest', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' },
  ],
}).routes;
const t = new RouteTable(routes, {});
// 16 KB of "/a" segments that end in no "/b": every split is tried before the glob fails.
const r = t.match('h', '/a'.repeat(8000) + '/c', 'GET');
process.stdout.write(typeof r === 'object' ? r.name : String(r));
`;

test('a glob with several ** against a 16 KB path of matching segments: answered, not backtracked', async () => {
  const result = await new Promise<{ error: Error | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', SCRIPT],
      { cwd: ROOT, timeout: 120_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }),
    );
  });
  assert.equal(result.error, null, `the match did not finish within 120 s (killed): ${result.stderr}`);
  assert.equal(result.stdout, 'rest');
});
