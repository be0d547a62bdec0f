/**
 * Tracing settings from the standard OpenTelemetry environment variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
 * Pure parsing, no SDK import: this module is loaded whether tracing is on or off.
 *
 * Tracing is off unless the environment asks for it, because the spec's default exporter
 * (`otlp` to localhost:4318) would make every gateway without a collector retry exports forever:
 *  - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` → off;
 *  - `OTEL_TRACES_EXPORTER=otlp` → on;
 *  - `OTEL_TRACES_EXPORTER` unset → on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 *    `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
 */
import { ConfigError } from '../../config/errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type SamplerSetting =
  | { kind: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { kind: 'traceidratio' | 'parentbased_traceidratio'; ratio: number };

export interface TracingSettings {
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: SamplerSetting;
  exporter: {
    /** Full URL of the traces endpoint (`…/v1/traces`). */
    url: string;
    /** May carry API keys: never logged. */
    headers: Record<string, string>;
    timeoutMs: number;
  };
  batch: { scheduledDelayMillis: number; exportTimeoutMillis: number; maxQueueSize: number; maxExportBatchSize: number };
  /** Problems that do not stop the gateway (unsupported but harmless settings), for one warning each at startup. */
  warnings: string[];
}

const DEFAULT_ENDPOINT = 'http://localhost:4318';
const SAMPLERS = new Set([
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
]);

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function positiveInt(env: Env, name: string, fallback: number, warnings: string[]): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  warnings.push(`${name}=${raw} is not a positive integer; using ${fallback}`);
  return fallback;
}

/** `key=value,key2=value2`, each part percent-decoded (the W3C Baggage format the spec names). */
function keyValueList(raw: string | undefined, name: string, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    try {
      const key = decodeURIComponent(part.slice(0, eq).trim());
      if (eq <= 0 || key === '') throw new Error('no key');
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // The entry itself is not quoted: header lists can hold API keys.
      warnings.push(`${name}: ignored an entry that is not key=value`);
    }
  }
  return out;
}

/** Whether the environment turns tracing on, without parsing the rest. */
export function tracingRequested(env: Env): boolean {
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporters = value(env, 'OTEL_TRACES_EXPORTER');
  if (exporters !== undefined) return exporters.split(',').some((e) => e.trim().toLowerCase() === 'otlp');
  return value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined || value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;
}

/** The settings when tracing is on, `undefined` when off. Throws ConfigError for what cannot work. */
export function tracingSettings(env: Env): TracingSettings | undefined {
  if (!tracingRequested(env)) return undefined;
  const warnings: string[] = [];
  const problems: string[] = [];

  const others = value(env, 'OTEL_TRACES_EXPORTER')
    ?.split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== 'otlp' && e !== '');
  if (others !== undefined && others.length > 0)
    warnings.push(`OTEL_TRACES_EXPORTER: only otlp is supported; ignoring ${others.join(', ')}`);

  const protocol = (
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    value(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/json'
  ).toLowerCase();
  if (protocol === 'grpc')
    problems.push('OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: use http/json (the collector listens on port 4318 for OTLP/HTTP)');
  else if (protocol === 'http/protobuf')
    warnings.push(
      'OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: spans are exported as http/json, which OTLP/HTTP receivers accept on the same endpoint',
    );
  else if (protocol !== 'http/json') problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not an OTLP protocol (http/json)`);

  let url = value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (url === undefined) url = (value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '') + '/v1/traces';
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    problems.push('OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is not an http(s) URL');
  }

  let sampler: SamplerSetting = { kind: 'parentbased_always_on' };
  const samplerName = value(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase();
  if (samplerName !== undefined && !SAMPLERS.has(samplerName)) {
    warnings.push(`OTEL_TRACES_SAMPLER=${samplerName} is not supported; using parentbased_always_on`);
  } else if (samplerName === 'traceidratio' || samplerName === 'parentbased_traceidratio') {
    const arg = value(env, 'OTEL_TRACES_SAMPLER_ARG');
    let ratio = arg === undefined ? 1 : Number(arg);
    if (!(ratio >= 0 && ratio <= 1)) {
      warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio in [0, 1]; using 1`);
      ratio = 1;
    }
    sampler = { kind: samplerName, ratio };
  } else if (samplerName !== undefined) {
    sampler = { kind: samplerName as 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' };
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const resourceAttributes = keyValueList(value(env, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', warnings);
  const serviceName = value(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'kratos-gateway';
  const headers = keyValueList(
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') ?? value(env, 'OTEL_EXPORTER_OTLP_HEADERS'),
    'OTEL_EXPORTER_OTLP_HEADERS',
    warnings,
  );
  const timeoutMs = positiveInt(
    env,
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT',
    10_000,
    warnings,
  );
  const maxQueueSize = positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, warnings);
  return {
    serviceName,
    resourceAttributes,
    sampler,
    exporter: { url, headers, timeoutMs },
    batch: {
      scheduledDelayMillis: positiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000, warnings),
      exportTimeoutMillis: positiveInt(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, warnings),
      maxQueueSize,
      // The SDK refuses a batch larger than the queue.
      maxExportBatchSize: Math.min(maxQueueSize, positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, warnings)),
    },
    warnings,
  };
}
