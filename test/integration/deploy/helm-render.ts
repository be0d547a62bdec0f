/**
 * Renders the chart with helm-render/main.go (Go's text/template plus the Helm and Sprig
 * functions the chart uses; see that file for what it is and is not). Needs `go`
 * (Debian's golang-go 1.19 is enough; standard library only).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { chartDir, repoRoot } from '../../unit/deploy/values-schema.js';

export interface Rendered {
  files: Record<string, string>;
  errors: Record<string, string>;
}

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};

let binary: Promise<{ path: string; dir: string }> | undefined;

function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, cwd: repoRoot }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** Builds the renderer once per process. */
export function rendererBinary(): Promise<{ path: string; dir: string }> {
  binary ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-helm-render-'));
    const path = join(dir, 'helm-render');
    await run('go', ['build', '-o', path, join(repoRoot, 'test/integration/deploy/helm-render/main.go')]);
    return { path, dir };
  })();
  return binary;
}

export function cleanupRenderer(): void {
  void binary?.then((b) => rmSync(b.dir, { recursive: true, force: true }));
}

const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };

export async function render(
  values: unknown,
  opts: { release?: string; namespace?: string; extra?: Record<string, string> } = {},
): Promise<Rendered> {
  const { path } = await rendererBinary();
  const input = {
    chartDir,
    values,
    release: {
      Name: opts.release ?? 'gw',
      Namespace: opts.namespace ?? 'gateway',
      Service: 'Helm',
      IsInstall: true,
      IsUpgrade: false,
      Revision: 1,
    },
    chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    extra: opts.extra ?? {},
  };
  return JSON.parse(await run(path, [], JSON.stringify(input))) as Rendered;
}

/** Every non-empty YAML document of the rendered manifests (NOTES.txt excluded). */
export function manifests(r: Rendered): Array<{ file: string; obj: Manifest }> {
  const out: Array<{ file: string; obj: Manifest }> = [];
  for (const [file, text] of Object.entries(r.files)) {
    if (file.endsWith('NOTES.txt') || !file.includes('/templates/')) continue;
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}\n${text}`);
      const obj = doc.toJS() as Manifest | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}
