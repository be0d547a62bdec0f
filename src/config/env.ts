import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { schemaAt, valueKind } from './schema-walk.js';

export const ENV_PREFIX = 'KRATOS_GATEWAY_';

/** Key path (dotted, as in error lines) → the environment variable that set it. */
export type EnvOrigins = Map<string, string>;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Environment overrides: `KRATOS_GATEWAY_` + the key path, upper-cased, with `__` between
 * levels; numeric segments index arrays. A value is read by the schema type of its key:
 * strings verbatim (`:memory:` and `http://kratos:4433 #x` stay exactly that), numbers and
 * booleans parsed, lists and maps in YAML flow syntax (`[10.0.0.0/8]`, `{X-A: identity.id}`).
 * A number or boolean that does not parse stays text, so validation reports it by key.
 *
 *   KRATOS_GATEWAY_KRATOS__PUBLIC_URL=http://kratos:4433   → kratos.public_url
 *   KRATOS_GATEWAY_ROUTES__0__UPSTREAM=http://app:8080       → routes[0].upstream
 *   KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES='[10.0.0.0/8]'     → proxy.trusted_proxies
 *
 * `origins`, when given, records which variable set which key path, so validation errors can
 * name the variable instead of a key the operator never wrote.
 */
export function applyEnvOverrides(config: Record<string, unknown>, env: NodeJS.ProcessEnv, origins?: EnvOrigins): Record<string, unknown> {
  const names = Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && k.length > ENV_PREFIX.length)
    .sort(byKeyPath);
  for (const name of names) {
    const segments = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((s) => s.toLowerCase());
    if (segments.some((s) => s === '')) throw new ConfigError([`${name}: empty key segment (use "__" only between keys)`]);
    const value = readValue(name, env[name] ?? '', segments);
    setPath(config, segments, value, name);
    origins?.set(segments.join('.'), name);
  }
  return config;
}

/**
 * Variables in key-path order, list indexes compared as numbers: `ROUTES__9` is applied before
 * `ROUTES__10`, so each index extends the list by one (setPath refuses gaps).
 */
function byKeyPath(a: string, b: string): number {
  const x = a.split('__');
  const y = b.split('__');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [p, q] = [x[i]!, y[i]!];
    if (p === q) continue;
    if (/^\d+$/.test(p) && /^\d+$/.test(q)) return Number(p) - Number(q) || (p < q ? -1 : 1);
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}

function readValue(name: string, text: string, segments: string[]): unknown {
  const kind = valueKind(schemaAt(segments));
  if (kind === 'string') return text;
  if (kind === 'number') return NUMBER.test(text.trim()) ? Number(text.trim()) : text;
  if (kind === 'boolean') {
    const t = text.trim().toLowerCase();
    return t === 'true' ? true : t === 'false' ? false : text;
  }
  try {
    return parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new ConfigError([`${name}: not a valid YAML value (${(err as Error).message.split('\n')[0]})`]);
  }
}

function setPath(root: Record<string, unknown>, segments: string[], value: unknown, envName: string): void {
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i]!;
    const last = i === segments.length - 1;
    const index = /^\d+$/.test(key) ? Number(key) : undefined;
    if (Array.isArray(node)) {
      if (index === undefined)
        throw new ConfigError([`${envName}: "${segments.slice(0, i).join('.')}" is a list; "${key}" is not an index`]);
      // An index past the end would leave a gap: ROUTES__3000000 made a sparse list whose
      // 3 million holes each became a config error line (seconds of CPU, gigabytes of memory),
      // and an index of 2^32 or more was not a list element at all and vanished silently.
      if (index > node.length) {
        throw new ConfigError([
          `${envName}: ${segments.slice(0, i).join('.')} has no entry ${index - 1} (list indexes start at 0 and follow each other)`,
        ]);
      }
      if (last) node[index] = value;
      else node = (node[index] ??= /^\d+$/.test(segments[i + 1]!) ? [] : {}) as Record<string, unknown> | unknown[];
    } else {
      if (last) node[key] = value;
      else {
        const next = node[key];
        if (next === undefined || next === null || typeof next !== 'object') node[key] = /^\d+$/.test(segments[i + 1]!) ? [] : {};
        node = node[key] as Record<string, unknown> | unknown[];
      }
    }
  }
}
