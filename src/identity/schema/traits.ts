/**
 * Identity traits schemas: validation with ajv, the `ory.sh/kratos` extension (which traits
 * are login identifiers, verifiable or recovery addresses), and the form nodes each leaf
 * trait becomes.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { IdentitySchemaSource } from '../driver/config/config.js';
import { KratosConfigError } from '../driver/config/config-error.js';
import { MAX_IDENTIFIER_LENGTH, type DerivedAddresses } from '../identity/identity.js';
import { labels, texts, type UiText } from '../text/ui-text.js';
import { input, type InputType, type NodeGroup, type UiNode } from '../ui/form-nodes.js';
import { newAjv } from '../x/ajv.js';

type JsonSchema = Record<string, unknown>;

interface Extension {
  credentials?: { password?: { identifier?: unknown } };
  verification?: { via?: unknown };
  recovery?: { via?: unknown };
}

export interface TraitLeaf {
  /** Path below `traits`, e.g. ['name', 'first']. */
  path: string[];
  /** The form field name, e.g. `traits.name.first`. */
  name: string;
  schema: JsonSchema;
  ext: Extension | undefined;
}

export interface ValidationIssue {
  /** The form field the message belongs to, or undefined for the container. */
  field: string | undefined;
  message: UiText;
}

interface CompiledSchema {
  source: IdentitySchemaSource;
  validate: ValidateFunction;
  leaves: TraitLeaf[];
}

function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolveRef(root: JsonSchema, node: JsonSchema): JsonSchema {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
  let cur: unknown = root;
  for (const part of ref.slice(2).split('/')) cur = isObject(cur) ? cur[part] : undefined;
  return isObject(cur) ? cur : node;
}

function collectLeaves(root: JsonSchema, node: JsonSchema, path: string[], out: TraitLeaf[]): void {
  const resolved = resolveRef(root, node);
  const props = resolved.properties;
  if (resolved.type === 'object' || isObject(props)) {
    if (!isObject(props)) return;
    for (const [key, child] of Object.entries(props)) if (isObject(child)) collectLeaves(root, child, [...path, key], out);
    return;
  }
  const items = isObject(resolved.items) ? resolved.items : undefined;
  const ext = (resolved['ory.sh/kratos'] ?? items?.['ory.sh/kratos']) as Extension | undefined;
  out.push({ path, name: ['traits', ...path].join('.'), schema: resolved, ext: isObject(ext) ? ext : undefined });
}

function nodeType(schema: JsonSchema): InputType {
  switch (schema.format) {
    case 'email':
      return 'email';
    case 'date-time':
      return 'datetime-local';
    case 'date':
      return 'date';
    case 'uri':
      return 'url';
  }
  if (schema.type === 'number' || schema.type === 'integer') return 'number';
  if (schema.type === 'boolean') return 'checkbox';
  return 'text';
}

export function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  path.forEach((p, i) => {
    if (i === path.length - 1) cur[p] = value;
    else {
      if (!isObject(cur[p])) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
  });
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function maxLengthReason(limit: number, actual: number): string {
  return `length must be <= ${limit}, but got ${actual}`;
}

/** ajv messages reworded to what Kratos's validator (santhosh-tekuri/jsonschema) says. */
function issueFor(e: ErrorObject): ValidationIssue {
  const base = e.instancePath.split('/').filter(Boolean).map(decodeURIComponent);
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required') {
    const prop = String(params.missingProperty);
    return { field: [...base, prop].join('.'), message: texts.missingProperty(prop) };
  }
  const field = base.join('.') || undefined;
  if (e.keyword === 'minLength')
    return {
      field,
      message: texts.minLength(
        `length must be >= ${String(params.limit)}, but got ${String(e.data === undefined ? 0 : String(e.data).length)}`,
      ),
    };
  // v0.6 has no dedicated id for maxLength (later Kratos: 4000017); it arrives as the generic 4000001.
  if (e.keyword === 'maxLength')
    return { field, message: texts.validation(maxLengthReason(Number(params.limit), String(e.data ?? '').length)) };
  if (e.keyword === 'format')
    return { field, message: texts.invalidFormat(`${JSON.stringify(e.data)} is not valid "${String(params.format)}"`) };
  if (e.keyword === 'additionalProperties')
    return { field, message: texts.validation(`additionalProperties ${JSON.stringify(params.additionalProperty)} not allowed`) };
  if (e.keyword === 'type') return { field, message: texts.validation(`expected ${String(params.type)}, but got ${jsonType(e.data)}`) };
  return { field, message: texts.validation(e.message ?? 'is invalid') };
}

export class IdentitySchemas {
  private readonly compiled = new Map<string, CompiledSchema>();
  /** The `format: email` check of the schemas, for addresses the server sends email to. */
  readonly isEmail: (value: string) => boolean;

  constructor(sources: IdentitySchemaSource[]) {
    // strict:false because the `ory.sh/kratos` keyword is not a valid ajv keyword name.
    const ajv = newAjv({ allErrors: true, strict: false, verbose: true });
    const email = ajv.compile({ type: 'string', format: 'email' });
    this.isEmail = (value) => email(value);
    sources.forEach((source, i) => {
      const path = source.id === 'default' ? 'identity.default_schema_url' : `identity.schemas.${i - 1}.url`;
      let validate: ValidateFunction;
      try {
        // A fresh copy without $id so several schemas sharing an $id can coexist.
        const { $id: _ignored, ...schema } = source.parsed;
        validate = ajv.compile(schema);
      } catch (e) {
        throw new KratosConfigError(path, `the identity schema does not compile: ${(e as Error).message}`);
      }
      const traits = (source.parsed.properties as JsonSchema).traits as JsonSchema;
      const leaves: TraitLeaf[] = [];
      collectLeaves(source.parsed, traits, [], leaves);
      for (const leaf of leaves) {
        for (const kind of ['verification', 'recovery'] as const) {
          const via = leaf.ext?.[kind]?.via;
          if (via !== undefined && via !== 'email') {
            throw new KratosConfigError(path, `${leaf.name}: ory.sh/kratos ${kind}.via must be "email", got ${JSON.stringify(via)}`);
          }
        }
      }
      this.compiled.set(source.id, { source, validate, leaves });
    });
  }

  has(id: string): boolean {
    return this.compiled.has(id);
  }

  ids(): string[] {
    return [...this.compiled.keys()];
  }

  raw(id: string): string | undefined {
    return this.compiled.get(id)?.source.raw;
  }

  private get(id: string): CompiledSchema {
    const c = this.compiled.get(id);
    if (!c) throw new Error(`unknown identity schema ${id}`);
    return c;
  }

  leaves(id: string): TraitLeaf[] {
    return this.get(id).leaves;
  }

  validate(schemaId: string, traits: unknown): ValidationIssue[] {
    const c = this.get(schemaId);
    const issues = this.schemaIssues(c, traits);
    const reported = new Set(issues.map((i) => i.field));
    return [...issues, ...this.addressIssues(c, traits).filter((i) => !reported.has(i.field))];
  }

  /**
   * Kratos checks a trait it sends verification or recovery email to as an email address whatever
   * `format` the schema gives it (identity/extension_verify.go, extension_recovery.go): anything
   * else (`a@evil.test ceo@corp.example`, a list) would become an "address" whose email went to
   * whichever mailbox the mailer read in it.
   */
  private addressIssues(c: CompiledSchema, traits: unknown): ValidationIssue[] {
    const out: ValidationIssue[] = [];
    for (const leaf of c.leaves) {
      if (leaf.ext?.verification?.via !== 'email' && leaf.ext?.recovery?.via !== 'email') continue;
      const raw = getPath(traits, leaf.path);
      const values: unknown[] = Array.isArray(raw) ? raw : [raw];
      values.forEach((v, i) => {
        // derive() keeps only non-empty strings as addresses; the schema's own checks judge the rest.
        if (typeof v !== 'string' || v === '' || this.isEmail(v)) return;
        const field = Array.isArray(raw) ? `${leaf.name}.${i}` : leaf.name;
        out.push({ field, message: texts.invalidFormat(`${JSON.stringify(v)} is not valid "email"`) });
      });
    }
    return out;
  }

  private schemaIssues(c: CompiledSchema, traits: unknown): ValidationIssue[] {
    // Login identifiers are bounded whatever the schema says: the password policy compares
    // them with the password in quadratic time (password-policy.ts). Checked before ajv so a
    // huge value is neither run through format regexes nor echoed back in their messages.
    const tooLong: ValidationIssue[] = [];
    const boundedLeaves: Array<{ leaf: TraitLeaf; value: unknown }> = [];
    for (const leaf of c.leaves) {
      if (leaf.ext?.credentials?.password?.identifier !== true) continue;
      const raw = getPath(traits, leaf.path);
      const values = Array.isArray(raw) ? raw : [raw];
      const over = values.map((v) => typeof v === 'string' && v.length > MAX_IDENTIFIER_LENGTH);
      if (!over.includes(true)) continue;
      values.forEach((v, i) => {
        if (!over[i]) return;
        const name = Array.isArray(raw) ? `${leaf.name}.${i}` : leaf.name;
        tooLong.push({ field: name, message: texts.validation(maxLengthReason(MAX_IDENTIFIER_LENGTH, String(v).length)) });
      });
      boundedLeaves.push({ leaf, value: Array.isArray(raw) ? raw.map((v: unknown, i) => (over[i] ? '' : v)) : '' });
    }
    if (tooLong.length > 0) {
      // Blank the huge values so ajv neither scans them nor reports them a second time.
      const bounded = structuredClone(traits) as Record<string, unknown>;
      for (const { leaf, value } of boundedLeaves) setPath(bounded, leaf.path, value);
      const own = (field: string | undefined) =>
        boundedLeaves.some(({ leaf }) => field === leaf.name || field?.startsWith(`${leaf.name}.`));
      const rest = c.validate({ traits: bounded }) ? [] : (c.validate.errors ?? []).map(issueFor).filter((i) => !own(i.field));
      return [...tooLong, ...rest];
    }
    if (c.validate({ traits })) return [];
    return (c.validate.errors ?? []).map(issueFor);
  }

  /** Identifiers and addresses, lowercased as Kratos stores them. */
  derive(schemaId: string, traits: unknown): DerivedAddresses {
    const out: DerivedAddresses = { identifiers: [], verifiable: [], recovery: [] };
    for (const leaf of this.get(schemaId).leaves) {
      if (!leaf.ext) continue;
      const raw = getPath(traits, leaf.path);
      const values = (Array.isArray(raw) ? raw : [raw])
        .filter((v): v is string => typeof v === 'string' && v !== '')
        .map((v) => v.toLowerCase());
      if (leaf.ext.credentials?.password?.identifier === true) out.identifiers.push(...values);
      if (leaf.ext.verification?.via === 'email') out.verifiable.push(...values);
      if (leaf.ext.recovery?.via === 'email') out.recovery.push(...values);
    }
    return out;
  }

  nodes(schemaId: string, group: NodeGroup, traits?: unknown): UiNode[] {
    return this.get(schemaId).leaves.map((leaf) => {
      const title = typeof leaf.schema.title === 'string' ? leaf.schema.title : undefined;
      const node = input(group, leaf.name, nodeType(leaf.schema), {
        value: traits === undefined ? undefined : (getPath(traits, leaf.path) as string | number | boolean | undefined),
        ...(title ? { label: labels.generated(title) } : {}),
      });
      if (typeof leaf.schema.pattern === 'string') node.attributes.pattern = leaf.schema.pattern;
      return node;
    });
  }

  /** Form posts carry only strings; turn them into the JSON types the schema expects. */
  coerceFormTraits(schemaId: string, traits: unknown): unknown {
    if (!isObject(traits)) return traits;
    const out = structuredClone(traits);
    for (const leaf of this.get(schemaId).leaves) {
      const v = getPath(out, leaf.path);
      if (typeof v !== 'string') continue;
      const t = leaf.schema.type;
      if ((t === 'number' || t === 'integer') && v.trim() !== '' && !Number.isNaN(Number(v))) setPath(out, leaf.path, Number(v));
      else if (t === 'boolean' && (v === 'true' || v === 'false')) setPath(out, leaf.path, v === 'true');
    }
    return out;
  }
}
