/**
 * The subset of Kratos v0.6 configuration the embedded server supports, under Kratos's own
 * key names, so an existing kratos.yml mostly just works. validate.ts checks a file against its
 * JSON Schema (schema.ts): unknown keys are reported as warnings, invalid values throw
 * KratosConfigError with a `key.path: reason` message. This file turns the checked document into
 * the server's settings, with their defaults.
 */
import { randomBytes } from 'node:crypto';
import { parseDuration } from '../../x/duration.js';
import type { CorsSettings } from '../../x/cors.js';
import type { BackoffLimit, ThrottleConfig } from '../../x/throttle.js';
import { KratosConfigError } from './config-error.js';
import { loadIdentitySchema, type IdentitySchemaSource } from './identity-schemas.js';
import { parseByteSize, validateKratosDocument } from './validate.js';

export type { IdentitySchemaSource } from './identity-schemas.js';

export interface AfterUrls {
  defaultBrowserReturnUrl?: string;
}

export interface FlowConfig {
  uiUrl: string;
  lifespanMs: number;
}

export interface KratosConfig {
  /** Undefined only when the caller left it to the listener's real address. */
  publicBaseUrl?: string;
  adminBaseUrl?: string;
  defaultBrowserReturnUrl: string;
  whitelistedReturnUrls: string[];
  session: {
    lifespanMs: number;
    cookie: { name: string; domain?: string; path: string; sameSite: 'Lax' | 'Strict' | 'None'; persistent: boolean };
  };
  /** The first secret signs, all verify, which allows rotation. */
  cookieSecrets: string[];
  schemas: IdentitySchemaSource[];
  defaultSchemaId: string;
  dsn?: string;
  courier: { smtpUri?: string; from: string };
  hashers: { argon2: { memoryKiB: number; iterations: number; parallelism: number; saltLength: number; keyLength: number } };
  password: { haveibeenpwnedEnabled: boolean; maxBreaches: number; ignoreNetworkErrors: boolean };
  flows: {
    error: { uiUrl: string };
    login: FlowConfig & { after: AfterUrls & { password: AfterUrls } };
    registration: FlowConfig & { enabled: boolean; after: AfterUrls & { password: AfterUrls & { sessionHook: boolean } } };
    settings: FlowConfig & { privilegedSessionMaxAgeMs: number; after: AfterUrls & { password: AfterUrls; profile: AfterUrls } };
    recovery: FlowConfig & { enabled: boolean; after: AfterUrls };
    verification: FlowConfig & { enabled: boolean; after: AfterUrls };
    logout: { after: AfterUrls };
  };
  /** serve.public.cors, with Kratos v0.6's defaults (its schema's: configx loads them before the file). */
  publicCors: CorsSettings & { enabled: boolean; debug: boolean };
  /** `kratos_gateway.login_throttling`: not a Kratos key (Kratos v0.6 does not throttle logins). */
  loginThrottling: ThrottleConfig;
  /** `kratos_gateway.email_throttling`: recovery and verification emails per address and client. */
  emailThrottling: ThrottleConfig;
}

function fail(path: string, reason: string): never {
  throw new KratosConfigError(path, reason);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FALLBACK_UI = (flow: string) => `https://www.ory.sh/kratos/docs/fallback/${flow}`;
/** Our own namespace, so nobody mistakes these for Kratos keys (Kratos rejects them). */
const OURS = 'kratos_gateway';
const LOGIN_THROTTLE = `${OURS}.login_throttling`;
const EMAIL_THROTTLE = `${OURS}.email_throttling`;

export interface LoadOptions {
  /** Folder relative `file://` schema URLs resolve against; defaults to the working directory. */
  baseDir?: string;
}

export function loadKratosConfig(raw: unknown, opts: LoadOptions = {}): { config: KratosConfig; warnings: string[] } {
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) fail('(root)', 'the configuration must be a mapping');
  const { document, warnings } = validateKratosDocument(raw);

  const get = <T>(path: string): T | undefined => {
    let node: unknown = document;
    for (const key of path.split('.')) node = isObject(node) ? node[key] : undefined;
    return node as T | undefined;
  };
  const dur = (path: string, dflt: number) => {
    const v = get<string>(path);
    return v === undefined ? dflt : (parseDuration(v) as number);
  };
  const baseDir = opts.baseDir ?? process.cwd();
  // Required by the schema, so present once it validated.
  const defaultReturn = get<string>('selfservice.default_browser_return_url') as string;

  let secrets = get<string[]>('secrets.cookie') ?? get<string[]>('secrets.default');
  if (!secrets) {
    warnings.push('secrets.cookie: not set, using a random secret; session cookies will not survive a restart');
    secrets = [randomBytes(32).toString('base64url')];
  }

  const schemas: IdentitySchemaSource[] = [
    loadIdentitySchema('default', get<string>('identity.default_schema_url') as string, 'identity.default_schema_url', baseDir),
  ];
  (get<Array<{ id: string; url: string }>>('identity.schemas') ?? []).forEach((s, i) => {
    schemas.push(loadIdentitySchema(s.id, s.url, `identity.schemas.${i}.url`, baseDir));
  });

  const after = (flow: string): AfterUrls => ({
    defaultBrowserReturnUrl: get(`selfservice.flows.${flow}.after.default_browser_return_url`),
  });
  const afterMethod = (flow: string, method: string): AfterUrls => ({
    defaultBrowserReturnUrl: get(`selfservice.flows.${flow}.after.${method}.default_browser_return_url`),
  });
  const flow = (name: string): FlowConfig => ({
    uiUrl: get<string>(`selfservice.flows.${name}.ui_url`) ?? FALLBACK_UI(name),
    lifespanMs: dur(`selfservice.flows.${name}.lifespan`, 3_600_000),
  });
  const regHooks = get<Array<{ hook: string }>>('selfservice.flows.registration.after.password.hooks') ?? [];
  const argonMemory = parseByteSize(get('hashers.argon2.memory'));

  if (get('selfservice.methods.oidc.enabled') === true) {
    warnings.push('selfservice.methods.oidc.enabled: social sign-in is not supported by the embedded server; it stays off');
  }
  if (get('selfservice.methods.password.enabled') === false) {
    warnings.push('selfservice.methods.password.enabled: the embedded server only offers the password method; it stays enabled');
  }

  const backoff = (prefix: string, count: string, dflt: { max: number; baseMs: number; maxMs: number; resetMs: number }): BackoffLimit => {
    const limit = {
      maxFailures: get<number>(`${prefix}.${count}`) ?? dflt.max,
      baseDelayMs: dur(`${prefix}.base_delay`, dflt.baseMs),
      maxDelayMs: dur(`${prefix}.max_delay`, dflt.maxMs),
      resetAfterMs: dur(`${prefix}.reset_after`, dflt.resetMs),
    };
    if (limit.baseDelayMs <= 0) fail(`${prefix}.base_delay`, 'must be longer than zero');
    if (limit.maxDelayMs < limit.baseDelayMs) fail(`${prefix}.max_delay`, 'must not be shorter than base_delay');
    return limit;
  };
  // Loopback only: the gateway's mount (and a sidecar proxy) connect from there and set X-Forwarded-For.
  const trustedProxies = get<string[]>(`${OURS}.trusted_proxies`) ?? ['127.0.0.0/8', '::1'];
  const HOUR = 3_600_000;
  const cors = (key: string) => `serve.public.cors.${key}`;
  const publicCors: KratosConfig['publicCors'] = {
    enabled: get(cors('enabled')) ?? false,
    allowedOrigins: get(cors('allowed_origins')) ?? ['*'],
    allowedMethods: get(cors('allowed_methods')) ?? ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: get(cors('allowed_headers')) ?? ['Authorization', 'Content-Type', 'X-Session-Token'],
    exposedHeaders: get(cors('exposed_headers')) ?? ['Content-Type'],
    allowCredentials: get(cors('allow_credentials')) ?? true,
    optionsPassthrough: get(cors('options_passthrough')) ?? false,
    maxAge: get(cors('max_age')) ?? 0,
    debug: get(cors('debug')) ?? false,
  };

  const config: KratosConfig = {
    publicBaseUrl: get('serve.public.base_url'),
    publicCors,
    adminBaseUrl: get('serve.admin.base_url'),
    defaultBrowserReturnUrl: defaultReturn,
    whitelistedReturnUrls: get('selfservice.whitelisted_return_urls') ?? [],
    session: {
      lifespanMs: dur('session.lifespan', 24 * 3_600_000),
      cookie: {
        name: get('session.cookie.name') ?? 'ory_kratos_session',
        domain: get('session.cookie.domain'),
        path: get('session.cookie.path') ?? '/',
        sameSite: get('session.cookie.same_site') ?? 'Lax',
        persistent: get('session.cookie.persistent') ?? true,
      },
    },
    cookieSecrets: secrets,
    schemas,
    defaultSchemaId: 'default',
    dsn: get('dsn'),
    courier: { smtpUri: get('courier.smtp.connection_uri'), from: get('courier.smtp.from_address') ?? 'no-reply@ory.kratos.sh' },
    hashers: {
      argon2: {
        // Defaults favour login latency on small machines (OWASP's argon2id minimum), not Kratos's 128MB.
        memoryKiB: argonMemory ? Math.max(8, Math.floor(argonMemory / 1024)) : 19_456,
        iterations: get('hashers.argon2.iterations') ?? 2,
        parallelism: get('hashers.argon2.parallelism') ?? 1,
        saltLength: get('hashers.argon2.salt_length') ?? 16,
        keyLength: get('hashers.argon2.key_length') ?? 32,
      },
    },
    password: {
      // Off unless asked for: the embedded default must work on machines without internet access.
      haveibeenpwnedEnabled: get('selfservice.methods.password.config.haveibeenpwned_enabled') ?? false,
      maxBreaches: get('selfservice.methods.password.config.max_breaches') ?? 0,
      ignoreNetworkErrors: get('selfservice.methods.password.config.ignore_network_errors') ?? true,
    },
    flows: {
      error: { uiUrl: get('selfservice.flows.error.ui_url') ?? FALLBACK_UI('error') },
      login: { ...flow('login'), after: { ...after('login'), password: afterMethod('login', 'password') } },
      registration: {
        ...flow('registration'),
        enabled: get('selfservice.flows.registration.enabled') ?? true,
        after: {
          ...after('registration'),
          password: { ...afterMethod('registration', 'password'), sessionHook: regHooks.some((h) => h.hook === 'session') },
        },
      },
      settings: {
        ...flow('settings'),
        privilegedSessionMaxAgeMs: dur('selfservice.flows.settings.privileged_session_max_age', 3_600_000),
        after: { ...after('settings'), password: afterMethod('settings', 'password'), profile: afterMethod('settings', 'profile') },
      },
      recovery: { ...flow('recovery'), enabled: get('selfservice.flows.recovery.enabled') ?? false, after: after('recovery') },
      verification: {
        ...flow('verification'),
        enabled: get('selfservice.flows.verification.enabled') ?? false,
        after: after('verification'),
      },
      logout: { after: after('logout') },
    },
    loginThrottling: {
      enabled: get(`${LOGIN_THROTTLE}.enabled`) ?? true,
      trustedProxies,
      perIdentifier: backoff(`${LOGIN_THROTTLE}.per_identifier`, 'max_failures', {
        max: 5,
        baseMs: 1000,
        maxMs: 15 * 60_000,
        resetMs: HOUR,
      }),
      perClient: backoff(`${LOGIN_THROTTLE}.per_client`, 'max_failures', { max: 20, baseMs: 1000, maxMs: 15 * 60_000, resetMs: HOUR }),
      maxTracked: get(`${LOGIN_THROTTLE}.max_tracked`) ?? 50_000,
    },
    // An inbox gets a few links, then one a minute, doubling to one an hour: enough for a
    // user who asks again, too slow to flood anyone's inbox or the SMTP relay's reputation.
    emailThrottling: {
      enabled: get(`${EMAIL_THROTTLE}.enabled`) ?? true,
      trustedProxies,
      perIdentifier: backoff(`${EMAIL_THROTTLE}.per_recipient`, 'max_emails', { max: 5, baseMs: 60_000, maxMs: HOUR, resetMs: HOUR }),
      perClient: backoff(`${EMAIL_THROTTLE}.per_client`, 'max_emails', { max: 20, baseMs: 60_000, maxMs: HOUR, resetMs: HOUR }),
      maxTracked: get(`${EMAIL_THROTTLE}.max_tracked`) ?? 50_000,
    },
  };
  return { config, warnings };
}
