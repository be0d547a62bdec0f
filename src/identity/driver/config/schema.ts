/**
 * The JSON Schema of the kratos.yml the embedded server reads: the subset of Kratos v0.6's own
 * configuration schema (driver/config/.schema/config.schema.json, kept in
 * /work/shared/kratos/kratos-config.schema.json) that it implements, under the same structure
 * and key names, plus our `kratos_gateway` block.
 *
 * Objects list their keys with `additionalProperties: false`: a key outside them is reported as a
 * warning and ignored (validate.ts), as a real Kratos would reject it but an existing kratos.yml
 * should still start. Keys Kratos knows and this server deliberately ignores are `{}` (anything).
 * Every value a user writes carries an `x-reason`, the name of the sentence a refusal of it
 * prints (validate.ts REASONS). `format`s are registered by validate.ts.
 */
type Schema = Record<string, unknown>;

const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  additionalProperties: false,
  'x-reason': 'mapping',
  ...extra,
});
const string = (format: string, reason: string): Schema => ({ type: 'string', format, 'x-reason': reason });
const httpUrl = string('http-url', 'httpUrl');
const duration = string('go-duration', 'duration');
const bool: Schema = { type: 'boolean', 'x-reason': 'bool' };
const text: Schema = { type: 'string', minLength: 1, 'x-reason': 'nonEmptyString' };
const count: Schema = { type: 'integer', minimum: 0, 'x-reason': 'nonNegativeInteger' };
/** Known to Kratos, accepted and not used here. */
const ignored: Schema = {};

const after = (methods: Record<string, Schema> = {}): Schema => object({ default_browser_return_url: httpUrl, ...methods });
const flow = (extra: Record<string, Schema> = {}, afterMethods: Record<string, Schema> = {}): Schema =>
  object({ ui_url: httpUrl, lifespan: duration, after: after(afterMethods), ...extra });

const secrets: Schema = {
  type: 'array',
  minItems: 1,
  items: { type: 'string', minLength: 16, 'x-reason': 'secret' },
  'x-reason': 'secretList',
};

const backoff = (count_: string): Schema => object({ [count_]: count, base_delay: duration, max_delay: duration, reset_after: duration });
const throttling = (identifierKey: string, countKey: string): Schema =>
  object({
    enabled: bool,
    max_tracked: { type: 'integer', minimum: 1, 'x-reason': 'positiveInteger' },
    [identifierKey]: backoff(countKey),
    per_client: backoff(countKey),
  });

const list = (items: Schema, reason: string, extra: Schema = {}): Schema => ({ type: 'array', items, 'x-reason': reason, ...extra });
/** serve.public.cors exactly as Kratos v0.6's schema has it (its defaults are in config.ts). */
const cors = object({
  enabled: bool,
  allowed_origins: list(
    {
      type: 'string',
      minLength: 1,
      // rs/cors splits an origin at its first `*` only.
      not: { pattern: '\\*.*\\*' },
      anyOf: [{ format: 'uri' }, { const: '*' }],
      'x-reason': 'corsOrigin',
    },
    'corsOrigins',
    { uniqueItems: true },
  ),
  allowed_methods: list(
    { enum: ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'HEAD', 'OPTIONS', 'TRACE'], 'x-reason': 'corsMethod' },
    'corsMethods',
  ),
  allowed_headers: list({ type: 'string', 'x-reason': 'headerName' }, 'headerList'),
  exposed_headers: list({ type: 'string', 'x-reason': 'headerName' }, 'headerList'),
  allow_credentials: bool,
  options_passthrough: bool,
  max_age: count,
  debug: bool,
});

export const KRATOS_CONFIG_SCHEMA: Schema = object(
  {
    version: ignored,
    log: ignored,
    dev: ignored,
    'sqa-opt-out': ignored,
    'watch-courier': ignored,
    dsn: string('sqlite-dsn', 'dsn'),
    serve: object({
      // The CLI reads host and port itself (server/cli.ts).
      public: object({ base_url: httpUrl, cors, host: ignored, port: ignored }),
      // Kratos v0.6 applies CORS to the public port only.
      admin: object({ base_url: httpUrl, cors: ignored, host: ignored, port: ignored }),
    }),
    selfservice: object(
      {
        default_browser_return_url: httpUrl,
        whitelisted_return_urls: { type: 'array', items: httpUrl, 'x-reason': 'urlList' },
        methods: object({
          password: object({
            enabled: bool,
            config: object({ haveibeenpwned_enabled: bool, max_breaches: count, ignore_network_errors: bool }),
          }),
          oidc: object({ enabled: bool, config: ignored }),
          profile: ignored,
          link: ignored,
        }),
        flows: object({
          error: object({ ui_url: httpUrl }),
          login: flow({}, { password: after() }),
          registration: flow(
            { enabled: bool },
            {
              password: after({
                hooks: {
                  type: 'array',
                  items: object(
                    { hook: { type: 'string', enum: ['session'], 'x-reason': 'hook' } },
                    // A hook's own settings are the hook's business, not a key of ours to warn about.
                    { required: ['hook'], additionalProperties: true, 'x-reason': 'hookEntry' },
                  ),
                  'x-reason': 'hookList',
                },
              }),
            },
          ),
          settings: flow({ privileged_session_max_age: duration }, { password: after(), profile: after() }),
          recovery: flow({ enabled: bool }),
          verification: flow({ enabled: bool }),
          logout: object({ after: after() }),
        }),
      },
      // Defaulted to {} so that a missing block reports its required key, not itself.
      { required: ['default_browser_return_url'], default: {} },
    ),
    session: object({
      lifespan: duration,
      cookie: object({
        name: text,
        domain: text,
        path: text,
        same_site: { enum: ['Lax', 'Strict', 'None'], 'x-reason': 'sameSite' },
        persistent: bool,
      }),
    }),
    secrets: object({ cookie: secrets, default: secrets }),
    identity: object(
      {
        default_schema_url: text,
        schemas: {
          type: 'array',
          items: object(
            {
              id: { type: 'string', not: { const: 'default' }, 'x-reason': 'schemaId' },
              url: { type: 'string', 'x-reason': 'schemaEntry' },
            },
            // Kratos's entries have only these two keys; anything else is not ours to warn about.
            { required: ['id', 'url'], additionalProperties: true, 'x-reason': 'schemaEntry' },
          ),
          'x-reason': 'schemaList',
        },
      },
      { required: ['default_schema_url'], default: {} },
    ),
    courier: object({
      smtp: object({ connection_uri: { type: 'string', format: 'smtp-uri', 'x-reason': 'smtpUri' }, from_address: text }),
      template_override_path: ignored,
    }),
    hashers: object({
      algorithm: ignored,
      argon2: object({
        memory: { type: ['integer', 'string'], minimum: 1, format: 'byte-size', 'x-reason': 'byteSize' },
        iterations: count,
        parallelism: count,
        salt_length: count,
        key_length: count,
      }),
    }),
    // Our own namespace, so nobody mistakes these for Kratos keys (Kratos rejects them).
    kratos_gateway: object({
      trusted_proxies: { type: 'array', items: string('ip-or-cidr', 'address'), 'x-reason': 'addressList' },
      login_throttling: throttling('per_identifier', 'max_failures'),
      email_throttling: throttling('per_recipient', 'max_emails'),
    }),
  },
  { 'x-reason': 'root' },
);
