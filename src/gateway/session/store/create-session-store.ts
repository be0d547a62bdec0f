/**
 * session_cache → the store behind the resolver: none when the cache is off; the Redis-backed
 * tiered store when session_cache.shared.redis_url is set; else the in-process store, fanned out
 * to the other processes of this gateway when there are any.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../../config/errors.js';
import type { GatewayConfig } from '../../../config/schema.js';
import type { Logger } from '../../../log.js';
import type { GatewayMetrics } from '../../../observability/metrics.js';
import type { InvalidationChannel } from './invalidation-channel.js';
import { MemorySessionStore } from './memory-store.js';
import type { SessionStore } from './session-store.js';
import { RedisSessionStore } from './tiered-store.js';
import { summaryShapeOf } from './redis/stored-value-codec.js';

export interface SessionStoreDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** From session_cache.shared.password_file (readRedisPassword). */
  redisPassword?: string | undefined;
  /**
   * Without Redis: how this cache's purges reach the other processes of this gateway (cluster
   * workers), and theirs reach it. Each process has its own Redis connections and needs none.
   */
  bus?: InvalidationChannel | undefined;
  /** Every value path the resolver extracts: their fingerprint is the shape of the summaries shared. */
  valuePaths: readonly string[];
}

/** Never waits for Redis: the shared store connects in the background. */
export function createSessionStore(config: GatewayConfig, deps: SessionStoreDeps): SessionStore | undefined {
  const c = config.session_cache;
  if (!c.enabled) return undefined;
  const memory = { maxEntries: c.max_entries, maxBytes: c.max_bytes, ttlCapMs: c.ttl_cap_ms, negativeTtlMs: c.negative_ttl_ms };
  if (c.shared.redis_url === undefined) return new MemorySessionStore({ ...memory, ...(deps.bus !== undefined && { bus: deps.bus }) });
  return new RedisSessionStore({
    url: c.shared.redis_url,
    ...(deps.redisPassword !== undefined && { password: deps.redisPassword }),
    keyPrefix: c.shared.key_prefix,
    summaryShape: summaryShapeOf(deps.valuePaths),
    timeoutMs: c.shared.timeout_ms,
    degradedTtlCapMs: c.shared.degraded_ttl_cap_ms,
    whoamiTimeoutMs: config.kratos.whoami_timeout_ms,
    memory,
    logger: deps.logger.child({ component: 'shared-session-cache' }),
    events: deps.metrics.sharedCache(),
  });
}

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
