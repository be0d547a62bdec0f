/**
 * The policy examples in the Policies section of docs/routes-and-policies.md and in
 * docs/policies.md are valid policies, and the former do not carry the separate-conditions form
 * the gateway warns about (docs/policies.md shows that form on purpose).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parsePolicy } from '../../../src/config/policy.js';
import { policyWarnings } from '../../../src/config/policy-lint.js';
import { parseConfig } from '../../../src/config/load.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Every `policy:` value in the ```yaml blocks of `markdown`. */
function policies(markdown: string): unknown[] {
  const out: unknown[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) {
        if (k === 'policy') out.push(child);
        else visit(child);
      }
  };
  for (const m of markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) if (/^\s*policy:/m.test(m[1]!)) visit(parse(m[1]!));
  return out;
}

describe('policy examples', () => {
  const page = readFileSync(join(root, 'docs/routes-and-policies.md'), 'utf8');
  const start = page.indexOf('\n### Policies');
  assert.ok(start >= 0, 'docs/routes-and-policies.md has a Policies section');
  const section = page.slice(start, page.indexOf('\n## ', start));
  const found = {
    'docs/routes-and-policies.md (Policies)': policies(section),
    'docs/policies.md': policies(readFileSync(join(root, 'docs/policies.md'), 'utf8')),
  };

  for (const [where, list] of Object.entries(found)) {
    it(`${where}: every policy example is valid`, () => {
      assert.ok(list.length >= 2, `found ${list.length} examples`);
      list.forEach((policy, i) => {
        const problems: string[] = [];
        parsePolicy(policy, `example ${i}`, problems);
        assert.deepEqual(problems, [], JSON.stringify(policy));
      });
    });
  }

  it('docs/routes-and-policies.md: the admin example binds the address comparison to a verified address, and nothing is warned about', () => {
    const list = found['docs/routes-and-policies.md (Policies)'];
    assert.ok(
      list.some((p) => JSON.stringify(p).includes('{"verified_address":{"ends_with":')),
      JSON.stringify(list),
    );
    const routes = list.map((policy, i) => ({ name: `r${i}`, match: { path_prefix: `/r${i}` }, upstream: 'http://127.0.0.1:1', policy }));
    assert.deepEqual(policyWarnings(parseConfig({ routes }).routes), []);
  });
});
