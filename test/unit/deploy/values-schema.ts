/**
 * The chart's values.schema.json embeds the gateway's own configuration schema
 * (definitions.gatewayConfig), generated from the zod schema in src/config/schema.ts, so
 * `helm install` rejects a mistyped `config:` key before a pod crash-loops on it.
 * values-schema.test.ts fails when the embedded copy drifts; regenerate it with
 *
 *   node --import tsx test/unit/deploy/values-schema.ts --write
 *
 * Refinements zod cannot express in JSON Schema (absolute-URL checks, "exactly one of
 * path_prefix/path_glob") are still enforced by the gateway at start-up.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../../../src/config/schema.js';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const chartDir = join(repoRoot, 'helm/kratos-gateway');
export const valuesSchemaPath = join(chartDir, 'values.schema.json');

export function gatewayConfigJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema: _drop, ...rest } = generated;
  return { description: 'Generated from src/config/schema.ts (see test/unit/deploy/values-schema.ts).', ...rest };
}

export function readValuesSchema(): Record<string, unknown> & { definitions: Record<string, unknown> } {
  return JSON.parse(readFileSync(valuesSchemaPath, 'utf8')) as Record<string, unknown> & { definitions: Record<string, unknown> };
}

/** Helm's merge of a values file over values.yaml: maps merge key by key, anything else replaces, null deletes. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (over === null) return undefined;
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isMap(base) && isMap(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      const m = mergeValues(base[k], v);
      if (m === undefined) delete out[k];
      else out[k] = m;
    }
    return out;
  }
  return over;
}

if (process.argv.includes('--write')) {
  const schema = readValuesSchema();
  schema.definitions['gatewayConfig'] = gatewayConfigJsonSchema();
  writeFileSync(valuesSchemaPath, JSON.stringify(schema, null, 2) + '\n');
  console.log(`updated definitions.gatewayConfig in ${valuesSchemaPath}`);
}
