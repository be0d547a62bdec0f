/**
 * Memory requests and limits come from measurements, not guesses: the chart's values.yaml,
 * its examples and the plain Kubernetes examples give the gateway container
 *   request = idle RSS (rounded up to 16 MiB) and
 *   limit   = highest measured peak RSS × 1.5 (rounded up to 32 MiB),
 * both read here from bench/results/latest.md (the production configuration's rows). A new
 * bench result with a higher peak fails this test until the limits follow it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { chartDir, repoRoot } from './values-schema.js';

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
  let idle: number | undefined;
  let fullCacheEntries: number | undefined;
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
        idle = Number(m[1]);
        peaks.push(Number(m[2]));
        fullCacheEntries = Number(row[t.header.indexOf('cache entries')]);
      }
    }
  }
  assert.ok(peaks.length >= 5, `found ${peaks.length} peak RSS measurements of ${GATEWAY_ROW}`);
  assert.ok(idle !== undefined && fullCacheEntries !== undefined, 'found the (h) memory table');
  return { peak: Math.max(...peaks), idle, fullCacheEntries };
}

const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  assert.ok(m, `memory quantity ${q} in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};
const roundUp = (v: number, step: number) => Math.ceil(v / step) * step;

describe('memory requests and limits follow the benchmark', () => {
  const { peak, idle, fullCacheEntries } = measurements();
  const limit = roundUp(peak * 1.5, 32);
  const request = roundUp(idle, 16);

  it('the peak includes a session cache filled to its default bound', () => {
    const defaults = configSchema.parse({ routes: [] });
    assert.equal(fullCacheEntries, defaults.session_cache.max_entries);
    // The sizing comment in values.yaml quotes the numbers it was computed from.
    const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    assert.ok(valuesText.includes(`${peak} MiB`), `values.yaml quotes the peak ${peak} MiB`);
    assert.ok(valuesText.includes(`${idle} MiB`), `values.yaml quotes the idle RSS ${idle} MiB`);
  });

  const readYaml = (p: string) => parseYaml(readFileSync(p, 'utf8')) as Json;
  /** proxy.workers of a values file's config: each worker is its own Node process with its own session cache. */
  const workersOf = (v: Json): number => {
    const w = ((v['config'] as Json | undefined)?.['proxy'] as Json | undefined)?.['workers'];
    assert.ok(w === undefined || typeof w === 'number', `workers is a number where memory is sized (got ${String(w)})`);
    return w ?? 1;
  };
  const chartResources: Array<[string, Json, number]> = [
    ['helm values.yaml', readYaml(join(chartDir, 'values.yaml'))['resources'] as Json, workersOf(readYaml(join(chartDir, 'values.yaml')))],
    ...readdirSync(join(chartDir, 'examples')).map((f): [string, Json, number] => {
      const v = readYaml(join(chartDir, 'examples', f));
      return [`helm examples/${f}`, v['resources'] as Json, workersOf(v)];
    }),
  ];
  const k8sResources: Array<[string, Json, number]> = [];
  for (const f of ['standalone.yaml', 'sidecar-deployment.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(join(repoRoot, 'config/examples/kubernetes', f), 'utf8'))) {
      const o = doc.toJS() as {
        kind?: string;
        spec?: { template?: { spec?: { containers?: Array<{ name: string; resources?: Json }> } } };
      } | null;
      if (o?.kind !== 'Deployment') continue;
      const c = o.spec?.template?.spec?.containers?.find((x) => x.name === 'kratos-gateway');
      assert.ok(c?.resources, `${f}: the kratos-gateway container has resources`);
      k8sResources.push([`config/examples/kubernetes/${f}`, c.resources, 1]);
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
  // the primary process is not counted). A CPU limit, when workers > 1, is one CPU per worker.
  for (const [where, res, workers] of [...chartResources, ...k8sResources]) {
    const w = workers > 1 ? ` × ${workers} workers` : '';
    it(`${where}: request ${request}Mi${w} (idle RSS ${idle} MiB), limit ${limit}Mi${w} (peak ${peak} MiB × 1.5)`, () => {
      assert.equal(mebibytes(String((res['requests'] as Json)['memory'])), request * workers);
      assert.equal(mebibytes(String((res['limits'] as Json)['memory'])), limit * workers);
      if (workers > 1) assert.equal(String((res['limits'] as Json)['cpu']), String(workers));
    });
  }
});
