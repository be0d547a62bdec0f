/**
 * The gateway's version: package.json's, read at startup. `src/version.ts` and
 * `dist/version.js` are both one level below package.json, and the container image ships
 * package.json next to dist/ (Dockerfile), so the same relative URL works everywhere.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    // A build copied without package.json still runs; it just cannot say which version it is.
    return 'unknown';
  }
}

export const VERSION = readVersion();
export const NODE_VERSION = process.version;
