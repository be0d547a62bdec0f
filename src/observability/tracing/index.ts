import type { Logger } from '../../log.js';
import { tracingSettings, type Env } from './settings.js';
import type { Tracing } from './types.js';

export type { Env } from './settings.js';
export type { Tracing } from './types.js';

/**
 * Tracing from the `OTEL_*` environment, or `undefined` when it is off. Off, the SDK and the
 * exporter are never loaded: the dynamic import below is the only way in.
 */
export async function startTracing(env: Env, logger: Logger): Promise<Tracing | undefined> {
  const settings = tracingSettings(env);
  if (settings === undefined) return undefined;
  for (const warning of settings.warnings) logger.warn(`tracing: ${warning}`);
  const { OtelTracing } = await import('./otel.js');
  const tracing = new OtelTracing(settings, logger);
  // Headers may carry API keys and the URL user info a password: neither is logged.
  const endpoint = new URL(settings.exporter.url);
  logger.info(
    { endpoint: endpoint.origin + endpoint.pathname, sampler: settings.sampler.kind, service: settings.serviceName },
    'tracing on: exporting spans over OTLP/HTTP',
  );
  return tracing;
}
