/**
 * Memory requests and limits come from measurements, not guesses: the chart's values.yaml,
 * its examples and the plain Kubernetes examples give the gateway container
 *   request = idle RSS (rounded up to 16 MiB) and
 *   limit   = the larger of (idle RSS + session_cache.max_bytes × RSS per cached byte) and the
 *             highest peak RSS of the other scenarios, × 1.5 (rounded up to 32 MiB),
 * with idle RSS, RSS per cached byte (a cache filled to its byte bound, scenario (h)) and the
 * peaks read here from bench/results/latest.md (the production configuration's rows), and
 * max_bytes from the configuration each place gives the gateway. A new bench result with a
 * higher peak, or a larger max_bytes, fails this test until the limits follow it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { chartDir, mergeValues, repoRoot } from './values-schema.js';

type Json = Record<string, unknown>;
const bench = readFileSync(join(repoRoot, 'bench/results/latest.md'), 'utf8');
const GATEWAY_ROW = 'kratos-gateway (production config)';

/** Every markdown table as header cells + rows of cells. */
function tables(md: string): Array<{ header: string[]; rows: string[][] }> {
  const out: Array<{ header: string[]; rows: string[][] }> = [];
  const lines = md.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|[-:| ]+\|$/.test(lines[i + 1]!)) continue;
    const cells = (l: string) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim());
    const header = cells(lines[i]!);
    const rows: string[][] = [];
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) rows.push(cells(lines[j]!));
    out.push({ header, rows });
  }
  return out;
}

function measurements() {
  const peaks: number[] = [];
  let h: { idle: number; cacheMiB: number; perCachedByte: number } | undefined;
  for (const t of tables(bench)) {
    const peakCol = t.header.indexOf('RSS MiB (end / peak)');
    const afterCol = t.header.indexOf('RSS before → after MiB');
    for (const row of t.rows.filter((r) => r[0] === GATEWAY_ROW)) {
      if (peakCol !== -1) {
        const m = /^([\d.]+) \/ ([\d.]+)$/.exec(row[peakCol]!);
        if (m) peaks.push(Number(m[2]));
      }
      if (afterCol !== -1) {
        const m = /^([\d.]+) → ([\d.]+)$/.exec(row[afterCol]!);
        assert.ok(m, row[afterCol]);
        h = {
          idle: Number(m[1]),
          cacheMiB: Number(row[t.header.indexOf('cache estimate MiB')]),
          perCachedByte: Number(row[t.header.indexOf('RSS per cached byte')]),
        };
      }
    }
  }
  assert.ok(peaks.length >= 5, `found ${peaks.length} peak RSS measurements of ${GATEWAY_ROW}`);
  assert.ok(h !== undefined && h.cacheMiB > 0 && h.perCachedByte > 0, 'found the (h) memory table with the cache estimate');
  return { otherPeak: Math.max(...peaks), ...h };
}

const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  assert.ok(m, `memory quantity ${q} in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};
const roundUp = (v: number, step: number) => Math.ceil(v / step) * step;
const MIB = 1024 * 1024;

describe('memory requests and limits follow the benchmark', () => {
  const { otherPeak, idle, cacheMiB, perCachedByte } = measurements();
  const defaults = configSchema.parse({ routes: [] }).session_cache;
  const request = roundUp(idle, 16);
  /** The limit for one gateway process whose cache may hold `maxBytes`. */
  const limitFor = (maxBytes: number) => roundUp(Math.max(idle + (maxBytes / MIB) * perCachedByte, otherPeak) * 1.5, 32);

  it('RSS per cached byte was measured with the cache full at its default byte bound', () => {
    const bound = defaults.max_bytes / MIB;
    assert.ok(cacheMiB >= bound * 0.95 && cacheMiB <= bound, `(h) ended holding ${cacheMiB} MiB of ${bound} MiB`);
    // The sizing comment in values.yaml quotes the numbers it was computed from.
    const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    for (const quoted of [`${idle.toFixed(1)} MiB`, `x ${perCachedByte.toFixed(2)}`, `${otherPeak.toFixed(1)} MiB`])
      assert.ok(valuesText.includes(quoted), `values.yaml quotes ${quoted}`);
  });

  const readYaml = (p: string) => parseYaml(readFileSync(p, 'utf8')) as Json;
  /** proxy.workers of a values file's config: each worker is its own Node process with its own session cache. */
  const workersOf = (v: Json): number => {
    const w = ((v['config'] as Json | undefined)?.['proxy'] as Json | undefined)?.['workers'];
    assert.ok(w === undefined || typeof w === 'number', `workers is a number where memory is sized (got ${String(w)})`);
    return w ?? 1;
  };
  /** session_cache.max_bytes of a gateway configuration (the default when it sets none). */
  const maxBytesOf = (config: unknown): number => {
    const v = ((config as Json | undefined)?.['session_cache'] as Json | undefined)?.['max_bytes'];
    assert.ok(v === undefined || typeof v === 'number', `max_bytes is a number where memory is sized (got ${String(v)})`);
    return v ?? defaults.max_bytes;
  };
  const chartValues = readYaml(join(chartDir, 'values.yaml'));
  type Place = [where: string, resources: Json, workers: number, maxBytes: number];
  const chartResources: Place[] = [
    ['helm values.yaml', chartValues['resources'] as Json, workersOf(chartValues), maxBytesOf(chartValues['config'])],
    ...readdirSync(join(chartDir, 'examples')).map((f): Place => {
      // An example is a values file over values.yaml: its config merges into the chart's.
      const v = mergeValues(chartValues, readYaml(join(chartDir, 'examples', f))) as Json;
      return [`helm examples/${f}`, v['resources'] as Json, workersOf(v), maxBytesOf(v['config'])];
    }),
  ];
  const k8sResources: Place[] = [];
  for (const f of ['standalone.yaml', 'sidecar-deployment.yaml']) {
    const docs = parseAllDocuments(readFileSync(join(repoRoot, 'config/examples/kubernetes', f), 'utf8')).map(
      (doc) =>
        doc.toJS() as {
          kind?: string;
          data?: Record<string, string>;
          spec?: { template?: { spec?: { containers?: Array<{ name: string; resources?: Json }> } } };
        } | null,
    );
    const configText = docs.find((o) => o?.kind === 'ConfigMap')?.data?.['gateway.yaml'];
    assert.ok(configText !== undefined, `${f}: the gateway configuration is in a ConfigMap`);
    for (const o of docs) {
      if (o?.kind !== 'Deployment') continue;
      const c = o.spec?.template?.spec?.containers?.find((x) => x.name === 'kratos-gateway');
      assert.ok(c?.resources, `${f}: the kratos-gateway container has resources`);
      k8sResources.push([`config/examples/kubernetes/${f}`, c.resources, 1, maxBytesOf(parseYaml(configText))]);
    }
  }

  it('finds every place that sizes the gateway container', () => {
    assert.equal(chartResources.length, 4);
    assert.ok(
      chartResources.some(([, , workers]) => workers > 1),
      'an example with more than one worker',
    );
    assert.equal(k8sResources.length, 2);
  });

  // With N workers the per-process figures are taken N times (not yet measured with workers;
  // the primary process is not counted): each worker has its own cache. A CPU limit, when
  // workers > 1, is one CPU per worker.
  for (const [where, res, workers, maxBytes] of [...chartResources, ...k8sResources]) {
    const w = workers > 1 ? ` × ${workers} workers` : '';
    const limit = limitFor(maxBytes);
    it(`${where}: request ${request}Mi${w} (idle RSS ${idle} MiB), limit ${limit}Mi${w} (max_bytes ${maxBytes / MIB} MiB)`, () => {
      assert.equal(mebibytes(String((res['requests'] as Json)['memory'])), request * workers);
      assert.equal(mebibytes(String((res['limits'] as Json)['memory'])), limit * workers);
      if (workers > 1) assert.equal(String((res['limits'] as Json)['cpu']), String(workers));
    });
  }
});
