/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and
 * the same grouped by package/file, so hot-path costs show without a flame-graph viewer.
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const isIdle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)';
const wall = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => isIdle(id)).reduce((a, [, us]) => a + us, 0);
for (const id of [...selfUs.keys()]) if (isIdle(id)) selfUs.delete(id);
// Percentages are of busy (non-idle) time.
const total = wall - idle;

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}${n.callFrame.url ? ':' + (n.callFrame.lineNumber + 1) : ''}`;
/** The nearest JS caller with a source URL (skips native frames), for native self time. */
function jsCaller(id: number): string {
  let cur = parent.get(id);
  const chain: string[] = [];
  while (cur !== undefined && chain.length < 3) {
    const n = byId.get(cur)!;
    if (n.callFrame.url) chain.push(label(n));
    cur = parent.get(cur);
  }
  return chain.join(' ← ') || '(root)';
}
const callers = new Map<string, Map<string, number>>();
const fns = new Map<string, number>();
const groups = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const name = `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}${n.callFrame.url ? ':' + (n.callFrame.lineNumber + 1) : ''}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  if (!n.callFrame.url) {
    const m = callers.get(name) ?? new Map<string, number>();
    const c = jsCaller(id);
    m.set(c, (m.get(c) ?? 0) + us);
    callers.set(name, m);
  }
  const g = n.callFrame.url ? where(n.callFrame.url) : n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native/V8)';
  groups.set(g, (groups.get(g) ?? 0) + us);
}
const pct = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
console.log(`profile: ${file}\n${(total / 1e6).toFixed(2)} s busy of ${(wall / 1e6).toFixed(2)} s sampled; percentages are of busy time\n`);
console.log(`top ${top} functions by self time:`);
for (const [name, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(us)}  ${name}`);
  const m = callers.get(name);
  if (m && us / total > 0.02)
    for (const [c, cu] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 3)) console.log(`          ${pct(cu)} from ${c}`);
}
console.log('\nself time by package / file:');
for (const [name, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
