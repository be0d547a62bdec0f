/**
 * One measurement of the session cache's memory, in its own process (run with --expose-gc by
 * bench/lib/memory-bench.ts). argv[2]: JSON `{ sessions, maxBytes? }`; prints one JSON line.
 *
 * The gateway's own parts, configured as a typical deployment: identity headers for the email
 * and the name (config → ConfigSnapshot.valuePaths), the in-memory store the resolver would
 * build (sized by max_entries = `sessions`, so it is exactly full), keys from the resolver's
 * cacheKey, summaries from summarizeSession over the fake whoami's Kratos v1 body
 * (bench/lib/session-json.ts) parsed from JSON text as undici's body would be. No HTTP: a million whoami calls do not fit the time budget,
 * and what is measured is what the cache holds, which HTTP does not change.
 *
 * heapUsed and external (lru-cache's typed arrays live outside the V8 heap) after two forced
 * GCs, before the store is built and after it is filled; RSS at the same points.
 */
import { parseConfig } from '../../src/config/load.js';
import { ConfigSnapshot } from '../../src/gateway/config-snapshot.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { MemorySessionStore } from '../../src/gateway/session/store/memory-store.js';
import { SessionResolver } from '../../src/gateway/session/session-resolver.js';
import { summarizeSession } from '../../src/gateway/session/session-summary.js';
import type { Credential } from '../../src/gateway/pipeline/credentials/index.js';
import { sessionJson } from './session-json.js';
import { TYPICAL_IDENTITY_HEADERS } from './typical-identity.js';

const { sessions, maxBytes } = JSON.parse(process.argv[2] ?? '{}') as { sessions: number; maxBytes?: number };
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const config = parseConfig({
  kratos: { public_url: 'http://127.0.0.1:4433' },
  identity_headers: TYPICAL_IDENTITY_HEADERS,
  session_cache: { max_entries: sessions, ...(maxBytes !== undefined && { max_bytes: maxBytes }) },
  routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:8080', auth: 'required' }],
});
const valuePaths = new ConfigSnapshot(config).valuePaths;
const c = config.session_cache;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

function settle(): NodeJS.MemoryUsage {
  gc!();
  gc!();
  return process.memoryUsage();
}

const metrics = new GatewayMetrics(() => 0);
const before = settle();
const store = new MemorySessionStore({
  maxEntries: c.max_entries,
  maxBytes: c.max_bytes,
  ttlCapMs: c.ttl_cap_ms,
  negativeTtlMs: c.negative_ttl_ms,
});
const resolver = new SessionResolver({
  kratosPublicUrl: config.kratos.public_url,
  whoamiTimeoutMs: 1_000,
  connections: 1,
  cache: {
    enabled: true,
    ttlCapMs: c.ttl_cap_ms,
    negativeTtlMs: c.negative_ttl_ms,
    honourCacheForHeader: true,
  },
  valuePaths,
  metrics,
  store,
});
const t0 = performance.now();
const nowMs = Date.now();
for (let i = 0; i < sessions; i++) {
  const token = `ory_st_${hex(i, 8)}${'x'.repeat(24)}`;
  const summary = summarizeSession(JSON.parse(sessionJson(token)), valuePaths, nowMs);
  if (summary === 'inactive') throw new Error('inactive');
  const credential = { source: { kind: 'session_token' }, value: token } as unknown as Credential;
  store.set(resolver.cacheKey(credential), summary, c.ttl_cap_ms);
}
const fillMs = performance.now() - t0;
const after = settle();
const sizes = store.sizes;
const heap = after.heapUsed - before.heapUsed;
const external = after.external - before.external;
console.log(
  JSON.stringify({
    sessions,
    held: sizes.sessions,
    valuePaths,
    maxBytes: c.max_bytes,
    fillMs: Math.round(fillMs),
    heapBytesPerSession: heap / sessions,
    externalBytesPerSession: external / sessions,
    bytesPerSession: (heap + external) / sessions,
    rssBytesPerSession: (after.rss - before.rss) / sessions,
    rssBeforeMiB: before.rss / 2 ** 20,
    rssAfterMiB: after.rss / 2 ** 20,
    estimatedBytesPerSession: sizes.bytes / sizes.sessions,
    /** measured / estimated: how far sizeCalculation is from the heap it stands for. */
    measuredOverEstimate: (heap + external) / sizes.bytes,
  }),
);
void resolver.close();
