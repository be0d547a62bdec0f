/**
 * yamllint (Debian's, installed by .ci/run) over every plain YAML file of the deployment:
 * Chart.yaml, the values files, the production configuration and config/examples/**.
 * Helm templates are Go templates, not YAML, and are not linted here. --strict makes
 * warnings fail too; the rules are in .yamllint.yaml at the repository root, where editors,
 * CI and a bare `yamllint .` find them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chartDir, repoRoot } from '../../unit/deploy/values-schema.js';

const rules = join(repoRoot, '.yamllint.yaml');

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFilesUnder(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

/** yamllint with no -c on `target` ("-" reads `document` from stdin): it uses the configuration it discovers from `cwd`. */
function yamllintDiscovering(cwd: string, target: string, document = ''): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('yamllint', ['--strict', '--format', 'parsable', target], { cwd });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(document);
  });
}

function yamllint(files: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('yamllint', ['--strict', '--format', 'parsable', '-c', rules, ...files], (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, output: stdout + stderr });
    });
  });
}

describe('yamllint', () => {
  const files = [
    join(chartDir, 'Chart.yaml'),
    join(chartDir, 'values.yaml'),
    ...yamlFilesUnder(join(chartDir, 'examples')),
    join(repoRoot, 'config/production.yaml'),
    ...yamlFilesUnder(join(repoRoot, 'config/examples')),
    rules,
  ];

  it('finds the files it should lint', () => {
    const rel = files.map((f) => relative(repoRoot, f));
    for (const expected of [
      'helm/kratos-gateway/Chart.yaml',
      'helm/kratos-gateway/values.yaml',
      'helm/kratos-gateway/examples/values-standalone.yaml',
      'helm/kratos-gateway/examples/values-sidecar.yaml',
      'helm/kratos-gateway/examples/values-fleet.yaml',
      'config/examples/kubernetes/standalone.yaml',
      'config/examples/traefik/dynamic.yaml',
      'config/examples/envoy/envoy.yaml',
      'config/examples/ingress-nginx/ingress.yaml',
    ]) {
      assert.ok(rel.includes(expected), expected);
    }
  });

  it('reports nothing, warnings included', async () => {
    const { code, output } = await yamllint(files);
    assert.equal(output, '');
    assert.equal(code, 0);
  });

  it('the rules are found from the repository root without -c (a 120-character line passes there, not elsewhere)', async () => {
    const longLine = `key: ${'x'.repeat(115)}\n`;
    const atRoot = await yamllintDiscovering(repoRoot, '-', longLine);
    assert.equal(atRoot.output, '');
    assert.equal(atRoot.code, 0);
    const dir = mkdtempSync(join(tmpdir(), 'kg-yamllint-'));
    try {
      const elsewhere = await yamllintDiscovering(dir, '-', longLine);
      assert.match(elsewhere.output, /line too long/, 'yamllint defaults (80 columns) apply outside the repository');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`yamllint .` at the repository root is clean (Helm templates and node_modules are ignored)', async () => {
    const { code, output } = await yamllintDiscovering(repoRoot, '.');
    assert.equal(output, '');
    assert.equal(code, 0);
  });

  it('fails on a duplicate key (so a clean run means something)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-yamllint-'));
    try {
      const bad = join(dir, 'values.yaml');
      writeFileSync(bad, 'image:\n  tag: "1"\n  tag: "2"\n');
      const { code, output } = await yamllint([bad]);
      assert.notEqual(code, 0);
      assert.match(output, /duplication of key "tag"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
