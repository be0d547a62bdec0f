/**
 * The docs stay true where a machine can tell: every relative link in README.md and docs/
 * resolves (file and, within Markdown, heading anchor), and every configuration key the schema
 * accepts is in the configuration reference, docs/configuration.md, which names no other key.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keysAt } from '../../../src/config/schema-walk.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}
const documents = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs')), join(root, 'helm/kratos-gateway/README.md')].filter(
  existsSync,
);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Inline links and images outside code fences: [text](target). */
function links(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]!);
  }
  return out;
}

describe('documentation links', () => {
  for (const file of documents) {
    it(`${relative(root, file)}: every relative link resolves inside the repository`, () => {
      const text = readFileSync(file, 'utf8');
      const broken: string[] = [];
      for (const target of links(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
        const resolved = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
        if (!resolved.startsWith(root + '/') && resolved !== root) broken.push(`${target} (outside the repository)`);
        else if (!existsSync(resolved)) broken.push(`${target} (no such file)`);
        else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${target} (no such heading)`);
      }
      assert.deepEqual(broken, []);
    });
  }
});

/** Every key path the schema accepts, objects included (`proxy.listen`, `proxy.listen.host`, …). */
function schemaKeys(prefix: string[] = []): string[][] {
  return keysAt(prefix).flatMap((key) => {
    const path = [...prefix, key];
    return [path, ...schemaKeys(path)];
  });
}

/**
 * The keys a reference table row documents: its first cell's backticked names, where
 * `` `a.b.c` / `.d` `` and `` `a.b` / `c` `` name siblings of the first key.
 */
function documentedKeys(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split('|')[1]!;
    const names = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const first = names[0];
    if (first === undefined || !/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/.test(first)) continue;
    out.add(first);
    const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.')) : '';
    for (const sibling of names.slice(1)) {
      if (/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+$/.test(sibling))
        out.add(sibling); // a full path of its own
      else if (/^\.?[a-z_][a-z0-9_]*$/.test(sibling))
        out.add(parent === '' ? sibling.replace(/^\./, '') : `${parent}.${sibling.replace(/^\./, '')}`);
    }
  }
  return out;
}

describe('configuration reference', () => {
  const reference = readFileSync(join(root, 'docs/configuration.md'), 'utf8');

  it('documents every key the configuration schema accepts (a key, or a documented key above it)', () => {
    const documented = documentedKeys(reference);
    // A value key is covered when it, or an object above it (`routes`, `identity_headers`), has a row.
    const missing = schemaKeys()
      .filter((path) => keysAt(path).length === 0)
      .filter((path) => !path.some((_, i) => documented.has(path.slice(0, i + 1).join('.'))))
      .map((path) => path.join('.'));
    assert.deepEqual(missing, []);
  });

  it('documents no key the schema does not accept', () => {
    const known = new Set(schemaKeys().map((p) => p.join('.')));
    // The whole page is the reference: a key row anywhere on it must name a key the schema accepts.
    const stale = [...documentedKeys(reference)].filter((key) => !known.has(key));
    assert.deepEqual(stale, []);
  });
});
