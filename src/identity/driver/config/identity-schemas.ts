/** Reads the identity schemas kratos.yml names (identity.default_schema_url, identity.schemas). */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KratosConfigError } from './config-error.js';

export interface IdentitySchemaSource {
  id: string;
  url: string;
  /** The file's bytes, served unchanged by GET /schemas/{id}. */
  raw: string;
  parsed: Record<string, unknown>;
}

function fail(path: string, reason: string): never {
  throw new KratosConfigError(path, reason);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads a schema from `file://` (relative paths resolve against `baseDir`, which is the
 * config file's folder), `base64://`, or a plain path. `path` is the key a failure names.
 */
export function loadIdentitySchema(id: string, url: string, path: string, baseDir: string): IdentitySchemaSource {
  let raw: string;
  if (url.startsWith('base64://')) {
    raw = Buffer.from(url.slice('base64://'.length), 'base64').toString('utf8');
  } else if (/^https?:\/\//.test(url)) {
    fail(path, 'http(s) schema URLs are not supported by the embedded server; use file:// or base64://');
  } else {
    let file: string;
    if (url.startsWith('file:///')) file = fileURLToPath(url);
    else if (url.startsWith('file://')) file = url.slice('file://'.length);
    else file = url;
    if (!isAbsolute(file)) file = resolve(baseDir, file);
    try {
      raw = readFileSync(file, 'utf8');
    } catch (e) {
      fail(path, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail(path, 'the identity schema is not valid JSON');
  }
  if (!isObject(parsed)) fail(path, 'the identity schema must be a JSON object');
  const traits = isObject(parsed.properties) ? parsed.properties.traits : undefined;
  if (!isObject(traits)) fail(path, 'the identity schema must define properties.traits');
  return { id, url, raw, parsed };
}
