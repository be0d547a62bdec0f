/**
 * Dependencies point one way: low-level helpers (HTTP character tables, logging) at the bottom,
 * the configuration (which reads URI paths as the data plane does) above them, metrics and
 * tracing above that, then the data plane (the Kratos mount included); the control plane, the
 * self-service UI, the admin listener, the identity server and the demo app beside each other
 * on top of it, and the process assembly (start-gateway, then cluster, then main) last. Read from the import statements
 * (static and dynamic) of every source file, so a new upward import fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../src');

/** Top-level module (folder or file under src/) → layer. Sideways imports are allowed only within a module. */
const LAYERS: Record<string, number> = {
  version: 0,
  log: 0,
  http: 0,
  listen: 0,
  config: 1,
  observability: 2,
  gateway: 3,
  'control-plane': 4,
  ui: 4,
  admin: 4,
  identity: 4,
  demo: 4,
  'embedded-kratos-defaults': 4,
  reload: 4,
  'start-gateway': 5,
  cluster: 6,
  main: 7,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

function moduleOf(path: string): string {
  return relative(src, path)
    .split('/')[0]!
    .replace(/\.(ts|js)$/, '');
}

describe('module layers', () => {
  const files = sourceFiles(src);

  it('every top-level module has a layer', () => {
    const unknown = [...new Set(files.map(moduleOf))].filter((m) => !(m in LAYERS));
    assert.deepEqual(unknown, []);
  });

  it('no module imports from a module above it or beside it', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)) {
        const to = moduleOf(resolve(dirname(file), m[1]!));
        if (to === from) continue;
        const ok = (LAYERS[to] ?? Infinity) < (LAYERS[from] ?? -Infinity);
        if (!ok) wrong.push(`${relative(src, file)} imports ${m[1]} (${from} → ${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the rest of src/ reaches the identity server only through identity/index.ts', () => {
    const wrong: string[] = [];
    for (const file of files) {
      if (moduleOf(file) === 'identity') continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(src, resolve(dirname(file), m[1]!));
        if (moduleOf(resolve(src, target)) === 'identity' && target !== 'identity/index.js')
          wrong.push(`${relative(src, file)} imports ${m[1]}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
