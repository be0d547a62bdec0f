/**
 * session_cache.shared → the store behind the resolver: a RedisSessionStore when a Redis URL
 * is configured (and the cache is on), else undefined (the resolver's in-memory default).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../../config/errors.js';
import type { GatewayConfig } from '../../../config/schema.js';
import type { Logger } from '../../../log.js';
import type { GatewayMetrics } from '../../../observability/metrics.js';
import { RedisSessionStore } from './tiered-store.js';
import { summaryShapeOf } from './redis/stored-value-codec.js';

/**
 * The Redis password from session_cache.shared.password_file (relative to `baseDir`, the
 * configuration's directory), read once at start; a trailing newline (as `echo` or a Secret
 * editor leaves) is not part of it. Undefined when no file is configured.
 */
export function readRedisPassword(config: GatewayConfig, baseDir: string): string | undefined {
  const file = config.session_cache.shared.password_file;
  if (file === undefined) return undefined;
  const path = resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`session_cache.shared.password_file: cannot read ${path} (${(err as Error).message.split('\n')[0]})`]);
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new ConfigError([`session_cache.shared.password_file: ${path} is empty`]);
  return password;
}

/** Shared mode is on iff the cache is on and a Redis URL is set. Never waits for Redis. */
export function createSharedSessionStore(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  password: string | undefined,
  /** Every value path the resolver extracts: their fingerprint is the shape of the summaries shared. */
  valuePaths: readonly string[] = [],
): RedisSessionStore | undefined {
  const c = config.session_cache;
  if (!c.enabled || c.shared.redis_url === undefined) return undefined;
  return new RedisSessionStore({
    url: c.shared.redis_url,
    ...(password !== undefined && { password }),
    keyPrefix: c.shared.key_prefix,
    summaryShape: summaryShapeOf(valuePaths),
    timeoutMs: c.shared.timeout_ms,
    degradedTtlCapMs: c.shared.degraded_ttl_cap_ms,
    whoamiTimeoutMs: config.kratos.whoami_timeout_ms,
    memory: { maxEntries: c.max_entries, maxBytes: c.max_bytes, ttlCapMs: c.ttl_cap_ms, negativeTtlMs: c.negative_ttl_ms },
    logger: logger.child({ component: 'shared-session-cache' }),
    events: metrics.sharedCache(),
  });
}
