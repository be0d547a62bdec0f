/**
 * Several SessionResolvers in one process sharing one real redis-server, each with its own
 * RedisSessionStore (as separate gateway instances would have): for the shared-cache tests.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayMetrics } from '../../../src/observability/metrics.js';
import { credentialExtractors, type Credential } from '../../../src/gateway/pipeline/credentials/index.js';
import { SessionResolver } from '../../../src/gateway/session/session-resolver.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../../src/gateway/session/store/tiered-store.js';
import { memoryLogger, startFakeKratos } from '../../helpers/servers.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { FILL_LOCK } from '../../../src/gateway/session/store/redis/scripts.js';
import { startRedisFaultProxy, type RedisFaultProxy } from './redis-fault-proxy.js';

export const extractors = credentialExtractors('ory_kratos_session');
export const tokenHeader = extractors.find((e) => e.kind === 'session_token') ?? extractors[0]!;
export const cred = (value: string, source = tokenHeader): Credential => ({ source, value });

/**
 * The session stored in Redis under `key` (the whole key, prefix and `s:` included) as its raw
 * reply, or undefined when there is none: no key, or a fill lock (which lives under the same
 * key while an instance asks Kratos, and lapses by itself).
 */
export async function sharedSession(redis: TestRedis, key: string): Promise<string | undefined> {
  const reply = await redis.command('GET', key);
  return reply.startsWith('$-1') || reply.split('\r\n')[1]!.startsWith(FILL_LOCK) ? undefined : reply;
}

/** An API-flow logout of `token` through a gateway's Kratos mount (the mount purges it as Kratos answers). */
export async function apiLogoutThrough(gw: { proxyUrl: string }, token: string): Promise<void> {
  const logout = await fetch(gw.proxyUrl + '/.ory/kratos/public/self-service/logout/api', {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ session_token: token }),
  });
  await logout.arrayBuffer();
}

/**
 * Waits until `check` holds; `ms` bounds how long the test waits, not how fast the code must be.
 * `check` must test a state that lasts once reached (an end state, a counter): one that holds
 * only for a moment may come and go between two polls on a busy machine.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<number> {
  const started = performance.now();
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
  return performance.now() - started;
}

export interface Instance {
  resolver: SessionResolver;
  store: RedisSessionStore;
  metrics: GatewayMetrics;
  logLines: string[];
  /** A metric's value as the admin listener would export it (`name{labels} value`), or undefined. */
  metric(line: string): Promise<number | undefined>;
}

export interface InstanceOptions {
  redisUrl: string;
  kratosUrl: string;
  keyPrefix: string;
  timeoutMs?: number;
  degradedTtlCapMs?: number;
  whoamiTimeoutMs?: number;
  ttlCapMs?: number;
  revalidateAfterMs?: number;
  store?: Partial<RedisSessionStoreOptions>;
}

/** One "gateway instance": a resolver over its own RedisSessionStore, connected (up) unless `waitUp` is false. */
export async function instance(o: InstanceOptions, waitUp = true): Promise<Instance> {
  const metrics = new GatewayMetrics(() => 0);
  const { logger, lines } = memoryLogger();
  const whoamiTimeoutMs = o.whoamiTimeoutMs ?? 2_000;
  const ttlCapMs = o.ttlCapMs ?? 600_000;
  const memory = { maxEntries: 1_000, maxBytes: 1_000_000, ttlCapMs, negativeTtlMs: 60_000 };
  const store = new RedisSessionStore({
    url: o.redisUrl,
    keyPrefix: o.keyPrefix,
    // Generous unless a test sets it: on a busy machine a healthy Redis must not miss it (a lookup
    // would go to Kratos, a purge be queued) and turn the counts a test asserts into a race.
    timeoutMs: o.timeoutMs ?? 2_000,
    degradedTtlCapMs: o.degradedTtlCapMs ?? 5_000,
    whoamiTimeoutMs,
    memory,
    logger,
    events: metrics.sharedCache(),
    ...o.store,
  });
  const resolver = new SessionResolver({
    kratosPublicUrl: o.kratosUrl,
    whoamiTimeoutMs,
    connections: 8,
    cache: { enabled: true, ...memory, honourCacheForHeader: true, revalidateAfterMs: o.revalidateAfterMs },
    valuePaths: ['identity.traits.email'],
    metrics,
    logger,
    store,
  });
  if (waitUp) await waitFor(() => store.up, 'the store to connect to Redis');
  return {
    resolver,
    store,
    metrics,
    logLines: lines,
    async metric(line) {
      const text = await metrics.registry.metrics();
      const found = text.split('\n').find((l) => l.startsWith(line + ' '));
      return found === undefined ? undefined : Number(found.slice(line.length + 1));
    },
  };
}

export interface Rig {
  redis: TestRedis & { close(): Promise<void> };
  kratos: Awaited<ReturnType<typeof startFakeKratos>>;
}

/**
 * Registers before/after hooks that start a redis-server and a fake Kratos (and, with `proxy`, a
 * fault-injecting proxy in front of that Redis, redis-fault-proxy.ts) for the file's tests, and
 * close them after. The returned object's fields are set once the before hook has run.
 */
export function sharedRig(o: { proxy: true }): Rig & { proxy: RedisFaultProxy };
export function sharedRig(o?: { proxy?: false }): Rig;
export function sharedRig(o: { proxy?: boolean } = {}): Rig & { proxy?: RedisFaultProxy } {
  const rig = {} as Rig & { proxy?: RedisFaultProxy };
  before(async () => {
    rig.redis = await startRedis();
    if (o.proxy) rig.proxy = await startRedisFaultProxy(rig.redis.port);
    rig.kratos = await startFakeKratos();
  });
  after(async () => {
    await rig.proxy?.close();
    await rig.redis?.close();
    await rig.kratos?.close();
  });
  return rig;
}
