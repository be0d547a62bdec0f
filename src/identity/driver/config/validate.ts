/**
 * Checks a kratos.yml against its JSON Schema (schema.ts) with ajv, and words what it finds the
 * way every configuration error of this project is worded: `key.path: reason`. Keys outside the
 * schema become warnings (`key.path: unknown or unsupported key, ignored`), one per value under
 * them; the first other problem is thrown as a KratosConfigError.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { dsnProblem } from '../../persistence/dsn.js';
import { newAjv } from '../../x/ajv.js';
import { parseDuration } from '../../x/duration.js';
import { isAddressOrCidr } from '../../x/throttle.js';
import { KratosConfigError } from './config-error.js';
import { KRATOS_CONFIG_SCHEMA } from './schema.js';

type Document = Record<string, unknown>;

function isObject(v: unknown): v is Document {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseByteSize(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit.startsWith('K') ? 1024 : unit.startsWith('M') ? 1024 ** 2 : unit.startsWith('G') ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/**
 * A URL as a config error may quote it: the password in its userinfo replaced, also in text
 * that does not parse as a URL. Error lines reach terminals, CI logs and log pipelines.
 */
function quotableUrl(v: string): string {
  return v.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#]*@/, '$1:***@');
}

function httpUrlProblem(v: unknown): string | undefined {
  if (typeof v !== 'string') return 'must be a string URL';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `"${quotableUrl(v)}" is not an absolute URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `"${quotableUrl(v)}" must use http or https`;
  return undefined;
}

/**
 * courier.smtp.connection_uri as the courier reads it (courier/service.ts smtpOptions), so a
 * URI it could not use is a config error (and `validate` fails) instead of an "Invalid URL"
 * at start-up. The value is never quoted: it normally carries the SMTP password.
 */
function smtpUriProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return 'must be a non-empty string';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'is not a valid URL (smtp://user:password@host:port/ or smtps://...; percent-encode special characters in the user and password)';
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') return 'must use smtp:// or smtps://';
  if (u.hostname === '') return 'must name a host';
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return 'has a malformed percent-escape in its user or password';
  }
  return undefined;
}

/** The sentence a refused value gets, by the `x-reason` name its schema carries. */
const REASONS: Record<string, (value: unknown) => string> = {
  root: () => 'the configuration must be a mapping',
  mapping: () => 'must be a mapping',
  httpUrl: (v) => httpUrlProblem(v) ?? 'must be an http or https URL',
  urlList: () => 'must be a list of URLs',
  duration: (v) => `${JSON.stringify(v)} is not a duration like "1h", "15m" or "30s"`,
  bool: () => 'must be true or false',
  nonEmptyString: () => 'must be a non-empty string',
  nonNegativeInteger: () => 'must be a non-negative integer',
  positiveInteger: () => 'must be a positive integer',
  byteSize: (v) => `${JSON.stringify(v)} is not a size like "64MB"`,
  secretList: () => 'must be a non-empty list of secrets',
  secret: () => 'must be a string of at least 16 characters',
  hookList: () => 'must be a list of {hook: <name>}',
  hookEntry: () => 'must be an object with a "hook" name',
  hook: (v) => `hook ${JSON.stringify(v)} is not supported (only "session")`,
  sameSite: () => 'must be one of Lax, Strict, None',
  schemaList: () => 'must be a list of {id, url}',
  schemaEntry: () => 'must be an object with string "id" and "url"',
  schemaId: (v) => (v === 'default' ? '"default" is reserved for identity.default_schema_url' : 'must be a string'),
  addressList: () => 'must be a list of IP addresses or CIDRs',
  address: (v) => `${JSON.stringify(v)} is not an IP address or CIDR`,
  dsn: (v) => (typeof v === 'string' ? (dsnProblem(v) ?? 'is not supported') : 'must be a string'),
  smtpUri: (v) => smtpUriProblem(v) ?? 'is not a usable SMTP URI',
  corsOrigins: () => 'must be a list of origins, each named once',
  corsOrigin: (v) => `${JSON.stringify(v)} is not an origin: "*", or a URL like "https://app.example.com" with at most one "*"`,
  corsMethods: () => 'must be a list of HTTP methods',
  corsMethod: (v) => `${JSON.stringify(v)} is not one of POST, GET, PUT, PATCH, DELETE, CONNECT, HEAD, OPTIONS, TRACE`,
  headerList: () => 'must be a list of header names',
  headerName: () => 'must be a header name',
};

let compiled: ValidateFunction | undefined;

/** Compiled on first use: the gateway loads this module only when it runs the embedded server. */
function validator(): ValidateFunction {
  if (compiled) return compiled;
  // useDefaults fills the `default: {}` of blocks with a required key, so their absence reports that key.
  const ajv = newAjv({ allErrors: true, verbose: true, useDefaults: true, strict: true, allowUnionTypes: true });
  ajv.addKeyword('x-reason');
  ajv.addFormat('http-url', (s) => httpUrlProblem(s) === undefined);
  ajv.addFormat('go-duration', (s) => parseDuration(s) !== undefined);
  ajv.addFormat('sqlite-dsn', (s) => dsnProblem(s) === undefined);
  ajv.addFormat('smtp-uri', (s) => smtpUriProblem(s) === undefined);
  ajv.addFormat('byte-size', (s) => parseByteSize(s) !== undefined);
  ajv.addFormat('ip-or-cidr', isAddressOrCidr);
  compiled = ajv.compile(KRATOS_CONFIG_SCHEMA);
  return compiled;
}

function keyPath(instancePath: string): string {
  if (instancePath === '') return '(root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function reasonName(e: ErrorObject): string | undefined {
  const name = (e.parentSchema as Document | undefined)?.['x-reason'];
  return typeof name === 'string' ? name : undefined;
}

/** `key.path: reason` for the first problem, worded by the value's own schema where ajv's error came from a part of it. */
function toConfigError(first: ErrorObject, errors: ErrorObject[]): KratosConfigError {
  const path = keyPath(first.instancePath);
  // anyOf/not report from inside their branches; the value's own schema names the reason.
  const named = errors.find((e) => e.instancePath === first.instancePath && reasonName(e) !== undefined) ?? first;
  const name = reasonName(named);
  if (named.keyword === 'required' && (name === 'mapping' || name === 'root')) {
    const missing = (named.params as { missingProperty: string }).missingProperty;
    return new KratosConfigError(path === '(root)' ? missing : `${path}.${missing}`, 'is required');
  }
  const reason = name !== undefined ? REASONS[name]?.(named.data) : undefined;
  return new KratosConfigError(path, reason ?? named.message ?? 'is invalid');
}

/** Each value below an unknown key, in document order (null values are absent values). */
function unknownLeaves(value: unknown, path: string, out: string[]): void {
  if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) unknownLeaves(v, `${path}.${k}`, out);
    return;
  }
  if (value === null || value === undefined) return;
  out.push(`${path}: unknown or unsupported key, ignored`);
}

/**
 * The document without null-valued blocks and unknown keys: YAML's `key:` with nothing after it
 * leaves a block unset. A null where a value belongs is kept, and refused like any wrong value.
 */
function withoutNulls(value: unknown, schema: Document | undefined): unknown {
  if (!isObject(value)) return Array.isArray(value) ? [...(value as unknown[])] : value;
  const properties = isObject(schema?.properties) ? schema.properties : {};
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) {
    const child = isObject(properties[k]) ? properties[k] : undefined;
    const isValue = child !== undefined && child.type !== 'object' && Object.keys(child).length > 0;
    if (v === null && !isValue) continue;
    out[k] = withoutNulls(v, child);
  }
  return out;
}

/** Walks the document in order, collecting warnings for the keys ajv found outside the schema. */
function warningsFor(document: Document, unknown: Set<string>): string[] {
  const out: string[] = [];
  const walk = (node: Document, path: string) => {
    for (const [k, v] of Object.entries(node)) {
      const p = path ? `${path}.${k}` : k;
      if (unknown.has(p)) unknownLeaves(v, p, out);
      else if (isObject(v)) walk(v, p);
    }
  };
  walk(document, '');
  return out;
}

/**
 * The validated document (nulls dropped, required blocks defaulted to `{}`) and the warnings
 * for keys outside the schema; throws the first other problem.
 */
export function validateKratosDocument(raw: Document): { document: Document; warnings: string[] } {
  const document = withoutNulls(raw, KRATOS_CONFIG_SCHEMA) as Document;
  const validate = validator();
  validate(document);
  const errors = validate.errors ?? [];
  const unknown = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const prop = (e.params as { additionalProperty: string }).additionalProperty;
    unknown.add(e.instancePath === '' ? prop : `${keyPath(e.instancePath)}.${prop}`);
  }
  const problems = errors.filter((e) => e.keyword !== 'additionalProperties');
  const first = problems[0];
  if (first !== undefined) throw toConfigError(first, problems);
  return { document, warnings: warningsFor(document, unknown) };
}
