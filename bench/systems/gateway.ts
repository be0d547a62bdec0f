/**
 * kratos-gateway as a system under test, in its own process.
 * argv[2]: JSON `{ kratosUrl, upstreamUrl, cache, accessLog, shared?, sessionCache?, identityHeaders? }`;
 * `shared` (`{ redisUrl, keyPrefix }`, the fleet scenario) turns on session_cache.shared against
 * that Redis; `sessionCache` and `identityHeaders` (the memory soak) are merged into the configuration.
 * `grpcUpstreamUrl` (the grpc scenario) makes the one route an `upstream_protocol: h2c` route to
 * that gRPC server instead, with HTTP/2 on the proxy port.
 * Environment: BENCH_IDENTITY_ASSERTION=1 (bench:quick --assertion), BENCH_POLICY=1 (--policy).
 *
 * The configuration is production's (config/production.yaml's data-plane keys: cache on,
 * access log on, info level); the logger is the production logger (`createLogger`) writing
 * through sonic-boom to /dev/null instead of stdout, so every access line is still
 * serialised, redacted and written.
 */
import { startGateway } from '../../src/start-gateway.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { bufferedDestination, createLogger } from '../../src/log.js';
import { serveIpc } from '../lib/proc.js';
import { BENCH_POLICY } from '../lib/policy.js';

interface Options {
  kratosUrl: string;
  upstreamUrl: string;
  cache: boolean;
  accessLog: boolean;
  shared?: { redisUrl: string; keyPrefix: string };
  sessionCache?: Record<string, unknown>;
  identityHeaders?: Record<string, string>;
  grpcUpstreamUrl?: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;

/** The configuration, or the process ends with one `config error: key.path: reason` line per problem, as the product's start does. */
function configOrExit(raw: Record<string, unknown>): ReturnType<typeof parseConfig> {
  try {
    return parseConfig(raw);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) console.error(`config error: ${problem}`);
    process.exit(2);
  }
}

const config = configOrExit({
  proxy: { listen: { host: '127.0.0.1', port: 0 }, shutdown_grace_ms: 1_000, ...(opts.grpcUpstreamUrl ? { http2: true } : {}) },
  admin: { listen: { host: '127.0.0.1', port: 0 } },
  kratos: { public_url: opts.kratosUrl },
  session_cache: {
    enabled: opts.cache,
    ...opts.sessionCache,
    ...(opts.shared ? { shared: { redis_url: opts.shared.redisUrl, key_prefix: opts.shared.keyPrefix } } : {}),
  },
  ...(opts.identityHeaders && { identity_headers: opts.identityHeaders }),
  ui: { enabled: false },
  log: { level: 'info', access_log: opts.accessLog },
  // bench:quick --assertion: the signed identity assertion on (an ephemeral ES256 key, one mapped claim).
  ...(process.env.BENCH_IDENTITY_ASSERTION === '1'
    ? { identity_assertion: { enabled: true, claims: { email: 'identity.traits.email' } } }
    : {}),
  routes: [
    // bench:quick --policy: the same route again under /guarded, with a five-condition policy the bench sessions satisfy.
    ...(process.env.BENCH_POLICY === '1'
      ? [
          {
            name: 'guarded',
            match: { path_prefix: '/guarded' },
            upstream: opts.upstreamUrl,
            auth: 'required',
            on_unauthenticated: 'json',
            policy: BENCH_POLICY,
          },
        ]
      : []),
    opts.grpcUpstreamUrl
      ? { name: 'grpc', match: { path_prefix: '/' }, upstream: opts.grpcUpstreamUrl, upstream_protocol: 'h2c', auth: 'required' }
      : { name: 'app', match: { path_prefix: '/' }, upstream: opts.upstreamUrl, auth: 'required', on_unauthenticated: 'json' },
  ],
});

const logger = createLogger('info', bufferedDestination('/dev/null'));
const gw = await startGateway(config, { logger });

const gc = (globalThis as { gc?: () => void }).gc;
serveIpc(
  { url: gw.proxyUrl, adminUrl: gw.adminUrl },
  {
    memory: () => {
      if (gc) {
        gc();
        gc();
      }
      return {
        ...process.memoryUsage(),
        entries: gw.core.resolver.size,
        cacheBytes: gw.core.resolver.cacheBytes,
        gcForced: gc !== undefined,
      };
    },
    // Sampled during a run: no forced GC, which would disturb what is measured.
    stats: () => ({ ...process.memoryUsage(), entries: gw.core.resolver.size }),
  },
);

process.on('SIGTERM', () => {
  void gw.shutdown().finally(() => process.exit(0));
});
