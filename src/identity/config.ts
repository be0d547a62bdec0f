/**
 * The subset of Kratos v0.6 configuration the embedded server supports, under Kratos's own
 * key names, so an existing kratos.yml mostly just works. Unknown keys are reported as
 * warnings; invalid values throw KratosConfigError with a `key.path: reason` message.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from './duration.js';
import { isAddressOrCidr, type BackoffLimit, type ThrottleConfig } from './throttle.js';

export class KratosConfigError extends Error {
  constructor(
    readonly keyPath: string,
    readonly reason: string,
  ) {
    super(`${keyPath}: ${reason}`);
    this.name = 'KratosConfigError';
  }
}

export interface IdentitySchemaSource {
  id: string;
  url: string;
  /** The file's bytes, served unchanged by GET /schemas/{id}. */
  raw: string;
  parsed: Record<string, unknown>;
}

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
  /** `kratos_gateway.login_throttling`: not a Kratos key (Kratos v0.6 does not throttle logins). */
  loginThrottling: ThrottleConfig;
  /** `kratos_gateway.email_throttling`: recovery and verification emails per address and client. */
  emailThrottling: ThrottleConfig;
}

type Checker = (value: unknown, path: string) => void;

/** Keys Kratos knows that we accept and deliberately ignore, without a warning. */
const IGNORED_PREFIXES = [
  'version',
  'log',
  'serve.public.cors',
  'serve.admin.cors',
  'serve.public.host',
  'serve.public.port',
  'serve.admin.host',
  'serve.admin.port',
  'selfservice.methods.profile',
  'selfservice.methods.link',
  'selfservice.methods.oidc.config',
  'courier.template_override_path',
  'hashers.algorithm',
  'dev',
  'sqa-opt-out',
  'watch-courier',
];

const FLOWS = ['login', 'registration', 'settings', 'recovery', 'verification'] as const;

function fail(path: string, reason: string): never {
  throw new KratosConfigError(path, reason);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A URL as a config error may quote it: the password in its userinfo replaced, also in text
 * that does not parse as a URL. Error lines reach terminals, CI logs and log pipelines.
 */
function quotableUrl(v: string): string {
  return v.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#]*@/, '$1:***@');
}

const httpUrl: Checker = (v, p) => {
  if (typeof v !== 'string') fail(p, 'must be a string URL');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    fail(p, `"${quotableUrl(v)}" is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(p, `"${quotableUrl(v)}" must use http or https`);
};

/**
 * Why a DSN is refused, naming only its scheme: a DSN copied from a production kratos.yml
 * (`postgres://kratos:<password>@db/kratos`) carries the database password.
 */
export function dsnProblem(dsn: string): string | undefined {
  if (isSqliteDsn(dsn)) return undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(dsn)?.[1];
  return `${scheme === undefined ? 'this DSN' : `a "${scheme}:" DSN`} is not supported (the embedded identity server uses SQLite): use "memory" or "sqlite://<path>"`;
}

/**
 * courier.smtp.connection_uri as the courier reads it (courier/service.ts smtpOptions), so a
 * URI it could not use is a config error (and `validate` fails) instead of an "Invalid URL"
 * at start-up. The value is never quoted: it normally carries the SMTP password.
 */
const smtpUri: Checker = (v, p) => {
  if (typeof v !== 'string' || v === '') fail(p, 'must be a non-empty string');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    fail(
      p,
      'is not a valid URL (smtp://user:password@host:port/ or smtps://...; percent-encode special characters in the user and password)',
    );
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') fail(p, 'must use smtp:// or smtps://');
  if (u.hostname === '') fail(p, 'must name a host');
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    fail(p, 'has a malformed percent-escape in its user or password');
  }
};
const duration: Checker = (v, p) => {
  if (typeof v !== 'string' || parseDuration(v) === undefined) fail(p, `${JSON.stringify(v)} is not a duration like "1h", "15m" or "30s"`);
};
const bool: Checker = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'must be true or false');
};
const str: Checker = (v, p) => {
  if (typeof v !== 'string' || v === '') fail(p, 'must be a non-empty string');
};
const posInt: Checker = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'must be a non-negative integer');
};
const byteSize: Checker = (v, p) => {
  if (parseByteSize(v) === undefined) fail(p, `${JSON.stringify(v)} is not a size like "64MB"`);
};
const urlList: Checker = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'must be a list of URLs');
  v.forEach((x, i) => httpUrl(x, `${p}.${i}`));
};
const secretList: Checker = (v, p) => {
  if (!Array.isArray(v) || v.length === 0) fail(p, 'must be a non-empty list of secrets');
  v.forEach((x, i) => {
    if (typeof x !== 'string' || x.length < 16) fail(`${p}.${i}`, 'must be a string of at least 16 characters');
  });
};
const hooks: Checker = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'must be a list of {hook: <name>}');
  v.forEach((h, i) => {
    if (!isObject(h) || typeof h.hook !== 'string') fail(`${p}.${i}`, 'must be an object with a "hook" name');
    if (h.hook !== 'session') fail(`${p}.${i}.hook`, `hook "${String(h.hook)}" is not supported (only "session")`);
  });
};
const sameSite: Checker = (v, p) => {
  if (v !== 'Lax' && v !== 'Strict' && v !== 'None') fail(p, 'must be one of Lax, Strict, None');
};
const schemaList: Checker = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'must be a list of {id, url}');
  v.forEach((s, i) => {
    if (!isObject(s) || typeof s.id !== 'string' || typeof s.url !== 'string')
      fail(`${p}.${i}`, 'must be an object with string "id" and "url"');
  });
};
const addressList: Checker = (v, p) => {
  if (!Array.isArray(v)) fail(p, 'must be a list of IP addresses or CIDRs');
  v.forEach((x, i) => {
    if (typeof x !== 'string' || !isAddressOrCidr(x)) fail(`${p}.${i}`, `${JSON.stringify(x)} is not an IP address or CIDR`);
  });
};
const positiveInt: Checker = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(p, 'must be a positive integer');
};
const dsnChecker: Checker = (v, p) => {
  if (typeof v !== 'string') fail(p, 'must be a string');
  const problem = dsnProblem(v);
  if (problem !== undefined) fail(p, problem);
};

const KNOWN: Record<string, Checker> = {
  dsn: dsnChecker,
  'serve.public.base_url': httpUrl,
  'serve.admin.base_url': httpUrl,
  'selfservice.default_browser_return_url': httpUrl,
  'selfservice.whitelisted_return_urls': urlList,
  'selfservice.methods.password.enabled': bool,
  'selfservice.methods.oidc.enabled': bool,
  'selfservice.methods.password.config.haveibeenpwned_enabled': bool,
  'selfservice.methods.password.config.max_breaches': posInt,
  'selfservice.methods.password.config.ignore_network_errors': bool,
  'selfservice.flows.error.ui_url': httpUrl,
  'selfservice.flows.settings.privileged_session_max_age': duration,
  'selfservice.flows.registration.after.password.hooks': hooks,
  'selfservice.flows.logout.after.default_browser_return_url': httpUrl,
  'session.lifespan': duration,
  'session.cookie.name': str,
  'session.cookie.domain': str,
  'session.cookie.path': str,
  'session.cookie.same_site': sameSite,
  'session.cookie.persistent': bool,
  'secrets.cookie': secretList,
  'secrets.default': secretList,
  'identity.default_schema_url': str,
  'identity.schemas': schemaList,
  'courier.smtp.connection_uri': smtpUri,
  'courier.smtp.from_address': str,
  'hashers.argon2.memory': byteSize,
  'hashers.argon2.iterations': posInt,
  'hashers.argon2.parallelism': posInt,
  'hashers.argon2.salt_length': posInt,
  'hashers.argon2.key_length': posInt,
};
/** Our own namespace, so nobody mistakes these for Kratos keys (Kratos rejects them). */
const OURS = 'kratos_gateway';
const LOGIN_THROTTLE = `${OURS}.login_throttling`;
const EMAIL_THROTTLE = `${OURS}.email_throttling`;
KNOWN[`${OURS}.trusted_proxies`] = addressList;
for (const [base, kinds, count] of [
  [LOGIN_THROTTLE, ['per_identifier', 'per_client'], 'max_failures'],
  [EMAIL_THROTTLE, ['per_recipient', 'per_client'], 'max_emails'],
] as const) {
  KNOWN[`${base}.enabled`] = bool;
  KNOWN[`${base}.max_tracked`] = positiveInt;
  for (const kind of kinds) {
    KNOWN[`${base}.${kind}.${count}`] = posInt;
    for (const d of ['base_delay', 'max_delay', 'reset_after']) KNOWN[`${base}.${kind}.${d}`] = duration;
  }
}
for (const flow of FLOWS) {
  KNOWN[`selfservice.flows.${flow}.ui_url`] = httpUrl;
  KNOWN[`selfservice.flows.${flow}.lifespan`] = duration;
  KNOWN[`selfservice.flows.${flow}.after.default_browser_return_url`] = httpUrl;
}
for (const flow of ['recovery', 'verification', 'registration']) KNOWN[`selfservice.flows.${flow}.enabled`] = bool;
KNOWN['selfservice.flows.login.after.password.default_browser_return_url'] = httpUrl;
KNOWN['selfservice.flows.registration.after.password.default_browser_return_url'] = httpUrl;
KNOWN['selfservice.flows.settings.after.password.default_browser_return_url'] = httpUrl;
KNOWN['selfservice.flows.settings.after.profile.default_browser_return_url'] = httpUrl;
/** Lists whose elements are checked by the list checker, not walked as keys. */
const LEAF_LISTS = new Set(Object.keys(KNOWN));

function walk(node: unknown, path: string, out: Map<string, unknown>, warnings: string[]): void {
  if (path && LEAF_LISTS.has(path)) {
    out.set(path, node);
    return;
  }
  if (path && IGNORED_PREFIXES.some((p) => path === p || path.startsWith(`${p}.`))) return;
  if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k, out, warnings);
    return;
  }
  if (node === null || node === undefined) return;
  warnings.push(`${path}: unknown or unsupported key, ignored`);
}

export function parseByteSize(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit.startsWith('K') ? 1024 : unit.startsWith('M') ? 1024 ** 2 : unit.startsWith('G') ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

export function isSqliteDsn(dsn: string): boolean {
  return dsn === 'memory' || dsn === ':memory:' || dsn.startsWith('sqlite://') || dsn.startsWith('sqlite3://');
}

const FALLBACK_UI = (flow: string) => `https://www.ory.sh/kratos/docs/fallback/${flow}`;

/**
 * Reads a schema from `file://` (relative paths resolve against `baseDir`, which is the
 * config file's folder), `base64://`, or a plain path.
 */
function loadSchema(id: string, url: string, path: string, baseDir: string): IdentitySchemaSource {
  let raw: string;
  if (url.startsWith('base64://')) {
    raw = Buffer.from(url.slice('base64://'.length), 'base64').toString('utf8');
  } else if (/^https?:\/\//.test(url)) {
    fail(path, 'http(s) schema URLs are not supported by the embedded server; use file:// or base64://');
  } else {
    let file: string;
    if (url.startsWith('file:///')) file = fileURLToPath(url);
    else if (url.startsWith('file://')) file = url.slice('file://'.length);
    else file = url;
    if (!isAbsolute(file)) file = resolve(baseDir, file);
    try {
      raw = readFileSync(file, 'utf8');
    } catch (e) {
      fail(path, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail(path, 'the identity schema is not valid JSON');
  }
  if (!isObject(parsed)) fail(path, 'the identity schema must be a JSON object');
  const traits = isObject(parsed.properties) ? parsed.properties.traits : undefined;
  if (!isObject(traits)) fail(path, 'the identity schema must define properties.traits');
  return { id, url, raw, parsed };
}

export interface LoadOptions {
  /** Folder relative `file://` schema URLs resolve against; defaults to the working directory. */
  baseDir?: string;
}

export function loadKratosConfig(raw: unknown, opts: LoadOptions = {}): { config: KratosConfig; warnings: string[] } {
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) fail('(root)', 'the configuration must be a mapping');
  const warnings: string[] = [];
  const values = new Map<string, unknown>();
  walk(raw, '', values, warnings);
  for (const [path, value] of values) KNOWN[path]?.(value, path);

  const get = <T>(path: string): T | undefined => values.get(path) as T | undefined;
  const dur = (path: string, dflt: number) => {
    const v = get<string>(path);
    return v === undefined ? dflt : (parseDuration(v) as number);
  };
  const baseDir = opts.baseDir ?? process.cwd();

  const defaultReturn = get<string>('selfservice.default_browser_return_url');
  if (defaultReturn === undefined) fail('selfservice.default_browser_return_url', 'is required');

  let secrets = get<string[]>('secrets.cookie') ?? get<string[]>('secrets.default');
  if (!secrets) {
    warnings.push('secrets.cookie: not set, using a random secret; session cookies will not survive a restart');
    secrets = [randomBytes(32).toString('base64url')];
  }

  const schemas: IdentitySchemaSource[] = [];
  const defaultUrl = get<string>('identity.default_schema_url');
  if (defaultUrl === undefined) fail('identity.default_schema_url', 'is required');
  schemas.push(loadSchema('default', defaultUrl, 'identity.default_schema_url', baseDir));
  (get<Array<{ id: string; url: string }>>('identity.schemas') ?? []).forEach((s, i) => {
    if (s.id === 'default') fail(`identity.schemas.${i}.id`, '"default" is reserved for identity.default_schema_url');
    schemas.push(loadSchema(s.id, s.url, `identity.schemas.${i}.url`, baseDir));
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

  const config: KratosConfig = {
    publicBaseUrl: get('serve.public.base_url'),
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
