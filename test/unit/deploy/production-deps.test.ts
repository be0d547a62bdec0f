/**
 * The image (and any `npm ci --omit=dev` install) has only package.json "dependencies".
 * Every package that code under src/ loads at run time must therefore be one of them,
 * not a devDependency — otherwise the feature using it fails in production only.
 * Type-only imports are erased by tsc and do not count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './values-schema.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Package names a module loads at run time: static imports/exports that are not `import type`, and dynamic import(). */
function runtimePackages(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue;
    // `import { type A, type B } from 'x'` is erased entirely.
    const names = /^\{([^}]*)\}$/.exec(m[3]!.trim())?.[1];
    if (names !== undefined && names.split(',').every((n) => n.trim() === '' || /^type\s/.test(n.trim()))) continue;
    specs.push(m[4]!);
  }
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specs.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  return specs
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]!))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

describe('production dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

  it('the import scanner sees runtime imports and ignores type-only ones', () => {
    const sample = [
      "import express from 'express';",
      "import type { Logger } from 'pino';",
      "import { type A, type B } from 'zod';",
      "import { type A, b } from 'yaml';",
      "export { x } from '@scope/pkg/sub';",
      "const m = await import('ws');",
      "import { readFileSync } from 'node:fs';",
      "import { join } from 'path';",
      "import { a } from './local.js';",
    ].join('\n');
    assert.deepEqual(runtimePackages(sample).sort(), ['@scope/pkg', 'express', 'ws', 'yaml']);
  });

  it('every package src/ loads at run time is in "dependencies"', () => {
    const missing: string[] = [];
    for (const file of sources(join(repoRoot, 'src'))) {
      for (const name of runtimePackages(readFileSync(file, 'utf8'))) {
        if (!(name in pkg.dependencies)) missing.push(`${relative(repoRoot, file)}: ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
