import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { parseCidr } from './cidr.js';
import { routeProblems } from './route-rules.js';
import { corsProblems } from './cors-origins.js';
import { applyEnvOverrides, type EnvOrigins } from './env.js';
import { closestKey, keysAt } from './schema-walk.js';
import { ConfigError } from './errors.js';
import { assertionProblems } from './assertion-rules.js';
import { kratosInstanceProblems } from './kratos-instances.js';
import { configSchema, type GatewayConfig } from './schema.js';

export { ConfigError } from './errors.js';

export interface LoadedConfig {
  config: GatewayConfig;
  /** Directory of the config file; relative paths in it resolve against this. */
  baseDir: string;
  path: string;
  /** Which environment variable set which key path (for errors raised after loading). */
  envOrigins: EnvOrigins;
}

/** The variable that set this key path, or a key above or below it (a flow map, a whole route). */
function envOriginOf(path: string, origins: EnvOrigins | undefined): string | undefined {
  if (origins === undefined || origins.size === 0) return undefined;
  const exact = origins.get(path);
  if (exact !== undefined) return exact;
  for (const [p, name] of origins) if (path.startsWith(p + '.') || p.startsWith(path + '.')) return name;
  return undefined;
}

/**
 * A ConfigError raised after loading (a key file, a password file read at start): each
 * `key.path: reason` line names the variable that set that key, as loading's own lines do.
 */
export function attributeToEnv(err: ConfigError, origins: EnvOrigins): ConfigError {
  return new ConfigError(
    err.problems.map((line) => {
      const m = /^([a-z0-9_]+(?:\.[a-z0-9_]+)*): ([\s\S]*)$/.exec(line);
      return m === null ? line : located(m[1]!, m[2]!, origins);
    }),
  );
}

/** `key.path: reason`, or `VARIABLE (key.path): reason` when the environment set that key. */
function located(path: string, reason: string, origins: EnvOrigins | undefined): string {
  const env = envOriginOf(path, origins);
  return env === undefined ? `${path}: ${reason}` : `${env} (${path}): ${reason}`;
}

function formatIssue(issue: z.core.$ZodIssue, origins: EnvOrigins | undefined): string[] {
  const segments = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const path = segments.length === 0 ? '(root)' : segments.join('.');
  if (issue.code === 'unrecognized_keys') {
    // One line per key, each with its own suggestion.
    const valid = keysAt(segments);
    return issue.keys.map((key) => {
      const suggestion = closestKey(key, valid);
      return located(
        segments.length === 0 ? key : `${path}.${key}`,
        `unknown key${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`,
        origins,
      );
    });
  }
  // "Invalid input: expected number, received string": the prefix says nothing the line does not.
  return [located(path, issue.message.replace(/^Invalid input: /, ''), origins)];
}

/**
 * Validates a raw configuration object (schema, then cross-key rules). Throws ConfigError.
 * `envOrigins` (from applyEnvOverrides) lets errors name the environment variable at fault.
 */
export function parseConfig(raw: unknown, envOrigins?: EnvOrigins): GatewayConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(result.error.issues.flatMap((issue) => formatIssue(issue, envOrigins)));
  const config = result.data;
  const problems: string[] = [];
  problems.push(...routeProblems(config.routes), ...corsProblems(config.routes));
  config.proxy.trusted_proxies.forEach((entry, i) => {
    const cidr = parseCidr(entry);
    if (typeof cidr === 'string') problems.push(`proxy.trusted_proxies.${i}: ${cidr}`);
  });
  const mount = config.kratos.mount_prefix;
  const ui = config.ui.enabled ? config.ui.prefix : undefined;
  if (mount !== '' && ui !== undefined && (ui === mount || ui.startsWith(mount + '/') || mount.startsWith(ui + '/'))) {
    problems.push(`ui.prefix: "${ui}" overlaps kratos.mount_prefix "${mount}"`);
  }
  if (config.embedded_kratos.enabled && config.embedded_kratos.config_file === undefined) {
    problems.push('embedded_kratos.config_file: required when embedded_kratos.enabled is true');
  }
  problems.push(...assertionProblems(config, raw), ...kratosInstanceProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Reads the YAML file, applies environment overrides, validates. Throws ConfigError. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map(
        (e) =>
          `${path}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      ),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    // Aliases are resolved only here: an undefined anchor or an alias bomb ("Excessive alias
    // count") was a 'fatal:' exit 1 instead of a config error.
    throw new ConfigError([`${path}: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) throw new ConfigError([`${path}: the top level must be a mapping`]);
  const origins: EnvOrigins = new Map();
  const withEnv = applyEnvOverrides(raw as Record<string, unknown>, env, origins);
  return { config: parseConfig(withEnv, origins), baseDir: dirname(absolute), path: absolute, envOrigins: origins };
}
