/**
 * The gateway's configuration schema. One YAML file, every key overridable from the
 * environment (see env.ts). Defaults are secure: loopback listeners, no trusted proxies,
 * the session cookie removed before forwarding.
 */
import { z } from 'zod';
import { cors } from './cors-schema.js';

const port = z.number().int().min(0).max(65535);
const listen = (defaultPort: number) =>
  z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(defaultPort),
    })
    .strict()
    .prefault({});

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

/** A URL path prefix such as `/.ory/kratos/public`: leading slash, no trailing slash. */
const pathPrefix = z
  .string()
  .regex(/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/, 'must start with "/", have no trailing "/" and no empty segments');

/** A prefix the express control plane mounts: no characters its path syntax treats as special. */
const mountPrefix = z
  .string()
  .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must start with "/", have no trailing "/", and use only letters, digits, ".", "_", "~" and "-"');

const ms = z.number().int().min(0);

/** The keys a Kratos deployment shares with each of `kratos_instances` (same checks, same defaults). */
const whoamiTimeoutMs = z.number().int().min(1).max(60_000).default(1_000);
const sessionCookieName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a valid cookie name')
  .default('ory_kratos_session');

/**
 * One Kratos per tenant: the requests for `hosts` are authenticated against this Kratos, and the
 * mount proxies to it (src/gateway/tenancy). Overlaps and names are checked by
 * kratosInstanceProblems (kratos-instances.ts).
 */
const kratosInstance = z
  .object({
    /** Where the gateway calls this Kratos (whoami, the mount for its hosts). Required: it is the instance. */
    public_url: httpUrl,
    /** Exact host names or `*.suffix` (one or more labels), compared case-insensitively, port ignored. */
    hosts: z.array(z.string().regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'must be a host name or *.suffix, without port')).min(1),
    session_cookie: sessionCookieName,
    whoami_timeout_ms: whoamiTimeoutMs,
  })
  .strict();

/** Header name → where its value comes from, e.g. `X-User-Email: identity.traits.email`. */
const headerMapping = z.record(
  z.string().regex(/^[A-Za-z0-9-]+$/, 'header names may contain only letters, digits and "-"'),
  z
    .string()
    .regex(
      /^(identity\.id|identity\.schema_id|session\.id|session\.authenticated_at|session\.expires_at|identity\.traits(\.[A-Za-z0-9_-]+)+|identity\.verifiable_addresses\.0\.value)$/,
      'must be identity.id, identity.schema_id, session.id, session.authenticated_at, session.expires_at or identity.traits.<dotted.path>',
    ),
);

/** Claims the assertion always sets (or omits); a mapping must not replace them. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'aal', 'amr']);

export const authModes = ['required', 'optional', 'anonymous'] as const;
export type AuthMode = (typeof authModes)[number];

export const unauthenticatedResponses = ['auto', 'redirect', 'json'] as const;

/** How the gateway speaks to a route's upstream: HTTP/1.1, HTTP/2 with prior knowledge (h2c), or HTTP/2 over TLS (ALPN h2). */
export const upstreamProtocols = ['http1', 'h2c', 'h2'] as const;
export type UpstreamProtocol = (typeof upstreamProtocols)[number];

const route = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only (it becomes a metric label)'),
    match: z
      .object({
        /** Exact host name, `*.suffix`, or omitted for any host. Compared case-insensitively, port ignored. */
        host: z
          .string()
          .regex(/^(\*\.)?[A-Za-z0-9.-]+$/, 'must be a host name or *.suffix')
          .optional(),
        /** Segment-aware prefix: `/api` matches `/api` and `/api/x`, not `/apix`. `/` matches everything. */
        path_prefix: z.union([z.literal('/'), pathPrefix]).optional(),
        /** Glob over the canonical path: `*` is one segment (or part of one), `**` is any number of segments. */
        path_glob: z.string().regex(/^\//, 'must start with "/"').optional(),
        methods: z
          .array(z.string().regex(/^[A-Z]+$/, 'upper-case HTTP method'))
          .min(1)
          .optional(),
        /**
         * Also match the path with one `.format` extension on its last segment, as Rails routes
         * (`(.:format)`) and Django REST framework's format suffixes serve it: `/users/1.json`.
         */
        format_suffix: z.boolean().optional(),
      })
      .strict()
      .refine((m) => (m.path_prefix === undefined) !== (m.path_glob === undefined), {
        message: 'exactly one of path_prefix or path_glob is required',
      }),
    upstream: httpUrl,
    /** `h2c` needs an `http://` upstream, `h2` an `https://` one (route-rules.ts). gRPC needs one of them. */
    upstream_protocol: z.enum(upstreamProtocols).default('http1'),
    auth: z.enum(authModes).default('required'),
    /** Remove this prefix from the canonical path before forwarding. Must be a prefix of the match. */
    strip_prefix: pathPrefix.optional(),
    /** Per-route header mapping; replaces the global `identity_headers` for this route. */
    identity_headers: headerMapping.optional(),
    /** What an unauthenticated request on a `required` route gets: browser redirect, JSON 401, or by request kind. */
    on_unauthenticated: z.enum(unauthenticatedResponses).default('auto'),
    /** Allow WebSocket upgrades on this route (authenticated at the handshake like any request); `http1` upstreams only. */
    websocket: z.boolean().default(true),
    /** Upstream response-header timeout. */
    timeout_ms: ms.default(30_000),
    /**
     * Who may pass once authenticated: a condition (src/config/policy.ts), evaluated on the
     * cached session. Opaque here; validated with key paths by routeProblems (route-rules.ts).
     */
    policy: z.unknown().optional(),
    /** The `aud` of this route's identity assertion (default: identity_assertion.audience, else the upstream origin). */
    identity_assertion_audience: z.string().min(1).optional(),
    /** Cross-origin access from browsers: preflights answered here, CORS headers on every answer. */
    cors: cors.optional(),
  })
  .strict();

const MIB = 1024 * 1024;
const MAX_BYTES_RANGE = 'must be a whole number of bytes from 1048576 (1 MiB) to 1099511627776 (1 TiB)';

export const configSchema = z
  .object({
    proxy: z
      .object({
        listen: listen(4455),
        /** External origin of the gateway; the base of every `return_to` it builds. */
        public_base_url: httpUrl.default('http://127.0.0.1:4455'),
        /** Peers whose X-Forwarded-* headers are believed. Default: nobody. */
        trusted_proxies: z.array(z.string()).default([]),
        max_header_size: z.number().int().min(1024).max(1_048_576).default(16_384),
        headers_timeout_ms: ms.default(10_000),
        request_timeout_ms: ms.default(300_000),
        keep_alive_timeout_ms: ms.default(5_000),
        /** Serve HTTP/2 with prior knowledge (h2c) on the plaintext proxy port next to HTTP/1.1. */
        http2: z.boolean().default(true),
        /** Streams one HTTP/2 connection may have open at once (the SETTINGS_MAX_CONCURRENT_STREAMS the gateway announces). */
        http2_max_concurrent_streams: z.number().int().min(1).max(10_000).default(100),
        /** Sockets per upstream origin in the keep-alive pool. */
        upstream_connections: z.number().int().min(1).max(4096).default(128),
        /** Drain period on SIGTERM before remaining connections are closed. */
        shutdown_grace_ms: ms.default(10_000),
        /** Remove Kratos credentials (session and CSRF cookies, X-Session-Token, the bearer token that authenticated) from requests sent upstream. */
        strip_credentials: z.boolean().default(true),
        /** Data-plane worker processes on the shared listen socket: a number, or `auto` (one per available CPU). */
        workers: z
          .union([z.number().int().min(1).max(256), z.literal('auto')], { error: 'must be a whole number from 1 to 256, or "auto"' })
          .default(1),
        /** With workers: a worker not listening this long after it was started is killed and replaced (at the first start: a start-up failure). */
        worker_start_timeout_ms: z.number().int().min(1_000).max(600_000).default(60_000),
        /** TLS on the proxy listener (src/http/tls-dispatch.ts): PEM files relative to the config file, read again when they change. */
        tls: z
          .object({
            cert_file: z.string().min(1).optional(),
            key_file: z.string().min(1).optional(),
            min_version: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be TLSv1.2 or TLSv1.3' }).default('TLSv1.2'),
          })
          .strict()
          .superRefine((t, ctx) => {
            // Half a pair would be a plaintext listener the operator believes is TLS: refused, naming what is missing.
            if (t.cert_file !== undefined && t.key_file === undefined)
              ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'required when proxy.tls.cert_file is set' });
            if (t.key_file !== undefined && t.cert_file === undefined)
              ctx.addIssue({ code: 'custom', path: ['cert_file'], message: 'required when proxy.tls.key_file is set' });
          })
          .prefault({}),
      })
      .strict()
      // Node refuses to create such a server (a RangeError at start-up); say so as a config error.
      .refine((p) => p.request_timeout_ms === 0 || p.headers_timeout_ms === 0 || p.headers_timeout_ms <= p.request_timeout_ms, {
        message: 'must not exceed proxy.request_timeout_ms',
        path: ['headers_timeout_ms'],
      })
      .prefault({}),
    admin: z
      .object({
        listen: listen(4456),
        /** Forward-auth decision API prefix on the admin listener. */
        decisions_prefix: pathPrefix.default('/decisions'),
        /** Fail /health/ready while Kratos does not answer. Off: a Kratos outage would take every gateway pod out of its Service. */
        readiness_requires_kratos: z.boolean().default(false),
        /** Host names (exact, case-insensitive) the admin listener answers besides IP literals, localhost and its listen host. */
        allowed_hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name, without port')).default([]),
      })
      .strict()
      .prefault({}),
    kratos: z
      .object({
        /** Where the gateway calls Kratos (whoami, the public API mount). */
        public_url: httpUrl.default('http://127.0.0.1:4433'),
        /** Serve the Kratos public API under this prefix on the proxy listener; "" disables the mount. */
        mount_prefix: z.union([z.literal(''), mountPrefix]).default('/.ory/kratos/public'),
        whoami_timeout_ms: whoamiTimeoutMs,
        session_cookie: sessionCookieName,
        /** Concurrent connections to Kratos. */
        connections: z.number().int().min(1).max(1024).default(32),
      })
      .strict()
      .prefault({}),
    /**
     * Name → another Kratos, for the hosts it lists; every other host uses `kratos`. Names are
     * checked by kratosInstanceProblems (a metric label value and an environment-variable segment).
     */
    kratos_instances: z.record(z.string(), kratosInstance).default({}),
    session_cache: z
      .object({
        enabled: z.boolean().default(true),
        max_entries: z.number().int().min(1).default(100_000),
        /**
         * What the cached sessions may take, in estimated bytes (src/gateway/session/entry-size.ts):
         * the least recently used go first past it, as past max_entries. 64 MiB holds about
         * 88,000 sessions of a typical identity (docs/benchmarks.md#memory).
         */
        max_bytes: z
          .number({ error: MAX_BYTES_RANGE })
          .int({ error: MAX_BYTES_RANGE })
          .min(MIB, { error: MAX_BYTES_RANGE })
          .max(1024 * 1024 * MIB, { error: MAX_BYTES_RANGE })
          .default(64 * MIB),
        ttl_cap_ms: z.number().int().min(1).default(60_000),
        negative_ttl_ms: ms.default(1_000),
        honour_cache_for_header: z.boolean().default(true),
        /**
         * A cached session older than this is still served while one background whoami (one
         * for the whole fleet with `shared`) checks it again: a revocation made at Kratos
         * directly is seen within this plus one whoami. Absent: entries live until ttl_cap_ms.
         */
        revalidate_after_ms: z.number().int().min(1).optional(),
        /** The fleet's shared tier on Redis (or Valkey): invalidation fan-out, L2 cache, fleet-wide coalescing. */
        shared: z
          .object({
            /** `redis://` or `rediss://` (TLS); user and password may be in the URL. Absent: shared mode off. */
            redis_url: z
              .string()
              .refine((s) => {
                try {
                  const u = new URL(s);
                  return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
                } catch {
                  return false;
                }
              }, 'must be a redis:// or rediss:// URL with a host')
              // The Redis client reads options (TLS, password, family) from the query: settings
              // belong in the configuration, where they are validated and documented.
              .refine((s) => !s.includes('?') && !s.includes('#'), 'must not have a query string or fragment')
              .optional(),
            /** A file holding the Redis password (a mounted Secret); relative to the config file. Overrides a password in the URL. */
            password_file: z.string().min(1).optional(),
            /** Prefix of every key and channel the gateway uses (ACLs can confine it to `~<prefix>*` and `&<prefix>*`). */
            key_prefix: z
              .string()
              .regex(/^[A-Za-z0-9:_.{}-]{1,64}$/, 'letters, digits and ":_.{}-" only, at most 64')
              .default('kratos-gateway:'),
            /** The most a request ever waits on Redis; past it the request goes on without it. */
            timeout_ms: z.number().int().min(1).max(10_000).default(25),
            /** While Redis is unreachable, entries are kept at most this long (an invalidation may have been missed); never beyond ttl_cap_ms. */
            degraded_ttl_cap_ms: z.number().int().min(1).default(5_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .refine((c) => c.revalidate_after_ms === undefined || c.revalidate_after_ms < c.ttl_cap_ms, {
        message: 'must be less than session_cache.ttl_cap_ms (an entry is never older than the cap)',
        path: ['revalidate_after_ms'],
      })
      .refine((c) => c.shared.password_file === undefined || c.shared.redis_url !== undefined, {
        message: 'needs session_cache.shared.redis_url',
        path: ['shared', 'password_file'],
      })
      .prefault({}),
    identity_headers: headerMapping.default({}),
    login: z
      .object({
        /** Where an unauthenticated browser is sent; defaults to the mount's login init. */
        redirect_url: httpUrl.optional(),
        return_to_param: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default('return_to'),
        /** Hosts (host[:port]) a return_to may point at; the public_base_url host is always allowed. */
        allowed_return_to_hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be host or host:port')).default([]),
      })
      .strict()
      .prefault({}),
    ui: z
      .object({
        /** Serve the server-rendered self-service UI under `prefix` on the proxy listener. */
        enabled: z.boolean().default(true),
        prefix: mountPrefix.default('/ui'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        access_log: z.boolean().default(true),
        /** `json`: one JSON object per line (production). `pretty`: short human-readable lines, for development. */
        format: z.enum(['json', 'pretty']).default('json'),
      })
      .strict()
      .prefault({}),
    /** The embedded Kratos-compatible identity server (src/identity). Off in production. */
    embedded_kratos: z
      .object({
        enabled: z.boolean().default(false),
        /** A kratos.yml (Kratos's own key names), relative to the gateway config file. */
        config_file: z.string().optional(),
        public_listen: listen(4433),
        admin_listen: listen(4434),
        /** SQLite file, or ":memory:". Relative to the working directory. */
        dsn: z.string().default('sqlite://./data/kratos.sqlite'),
      })
      .strict()
      .prefault({}),
    /** The quickstart demo application (src/demo). Off in production. */
    demo_upstream: z
      .object({
        enabled: z.boolean().default(false),
        listen: listen(4500),
      })
      .strict()
      .prefault({}),
    /** A JWT about the session for upstreams to verify (src/gateway/assertion). */
    identity_assertion: z
      .object({
        enabled: z.boolean().default(false),
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, 'header names may contain only letters, digits and "-"')
          .default('X-Kratos-Identity-Jwt'),
        algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
        /** PEM blocks or a JWK set; the first key signs, all are published. None: an ephemeral key per process. */
        key_file: z.string().min(1).optional(),
        ttl_ms: z.number().int().min(1_000).max(86_400_000).default(300_000),
        audience: z.string().min(1).optional(),
        /**
         * Kratos v1.2+ session-to-JWT template: whoami is asked with `?tokenize_as=<name>` and
         * Kratos's own JWT (`tokenized`) is forwarded instead of one signed here (no local keys).
         * Template names are keys of Kratos's configuration: a safe charset keeps the query plain.
         */
        tokenize_as: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a Kratos token template name (letters, digits, "_", ".", "-")')
          .optional(),
        /** Claim name → session value path (the paths identity_headers accepts). */
        claims: z
          .record(
            z
              .string()
              .regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'must be a claim name')
              .refine((n) => !RESERVED_CLAIMS.has(n), 'is a claim the gateway sets itself'),
            headerMapping.valueType,
          )
          .default({}),
      })
      .strict()
      .prefault({}),
    routes: z.array(route).default([]),
  })
  .strict();

export type GatewayConfig = z.infer<typeof configSchema>;
export type RouteConfig = GatewayConfig['routes'][number];
export type HeaderMapping = Record<string, string>;
