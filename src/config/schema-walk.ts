/**
 * Reads the zod configuration schema as data: which keys an object accepts, and what kind of
 * value a key holds. Environment overrides are typed from this, and unknown keys get their
 * suggestions from it, so neither needs a hand-kept list that could drift from schema.ts.
 */
import type { z } from 'zod';
import { configSchema } from './schema.js';

type Schema = z.core.$ZodType;
/** The subset of zod 4 definitions the walk reads (`schema._zod.def`). */
interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  values?: unknown[];
}

const def = (s: Schema): Def => s._zod.def as unknown as Def;

/** Through optional/default/prefault/nullable/pipe wrappers to the schema that holds the value. */
function unwrap(s: Schema): Schema {
  for (;;) {
    const d = def(s);
    if (d.innerType !== undefined && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(d.type))
      s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return s;
  }
}

/** The schema at a key path (numeric segments index lists), or undefined when no such key exists. */
export function schemaAt(segments: readonly (string | number)[], root: Schema = configSchema): Schema | undefined {
  let s: Schema | undefined = unwrap(root);
  for (const seg of segments) {
    const d = def(s);
    if (d.type === 'object') s = d.shape?.[String(seg)];
    else if (d.type === 'array' && /^\d+$/.test(String(seg))) s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
    if (s === undefined) return undefined;
    s = unwrap(s);
  }
  return s;
}

/** The keys an object at this path accepts (empty when it is not a fixed-key object). */
export function keysAt(segments: readonly (string | number)[]): string[] {
  const s = schemaAt(segments);
  const d = s && def(s);
  return d?.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

export type ValueKind = 'string' | 'number' | 'boolean' | 'structured';

/**
 * How a text value for this key is read. `string`: verbatim. `number`/`boolean`: parsed.
 * `structured` (lists, maps, unknown keys, unions of different kinds): YAML flow syntax.
 */
export function valueKind(s: Schema | undefined): ValueKind {
  if (s === undefined) return 'structured';
  const d = def(s);
  switch (d.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'number':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'literal': {
      const kinds = new Set((d.values ?? []).map((v) => typeof v));
      return kinds.size === 1 && kinds.has('string') ? 'string' : 'structured';
    }
    case 'union': {
      const kinds = new Set((d.options ?? []).map((o) => valueKind(unwrap(o))));
      return kinds.size === 1 ? [...kinds][0]! : 'structured';
    }
    default:
      return 'structured';
  }
}

/** Edit distance with adjacent transpositions (optimal string alignment): `hots` is one step from `host`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest valid key, when it is close enough to be a plausible typo (at most a third of the letters differ). */
export function closestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of valid) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(key.length, best.length) / 3)) ? best : undefined;
}
