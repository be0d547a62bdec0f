/**
 * Configuration files on disk for tests that read them as the process does: a temporary
 * directory per test file, removed after its tests.
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `dir` and `file(text)`, which writes `text` to a new YAML file in `dir` and returns its path. */
export function tempConfigFiles(): { dir: string; file(text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'kratos-gateway-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let counter = 0;
  return {
    dir,
    file(text) {
      const path = join(dir, `config-${counter++}.yaml`);
      writeFileSync(path, text);
      return path;
    },
  };
}
