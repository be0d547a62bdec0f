import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KratosConfigError, loadKratosConfig } from '../../../src/identity/index.js';
import { parseDuration } from '../../../src/identity/x/duration.js';

const dir = mkdtempSync(join(tmpdir(), 'identity-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const schema = JSON.stringify({ type: 'object', properties: { traits: { type: 'object', properties: { email: { type: 'string' } } } } });
writeFileSync(join(dir, 'identity.schema.json'), schema);

const minimal = (extra: Record<string, unknown> = {}) => ({
  selfservice: { default_browser_return_url: 'http://127.0.0.1:4455/' },
  identity: { default_schema_url: 'file://identity.schema.json' },
  secrets: { cookie: ['0123456789abcdef0123'] },
  ...extra,
});

function errorOf(raw: unknown): string {
  try {
    loadKratosConfig(raw, { baseDir: dir });
  } catch (e) {
    assert.ok(e instanceof KratosConfigError);
    return e.message;
  }
  assert.fail('expected a KratosConfigError');
}

describe('loadKratosConfig', () => {
  it('applies Kratos defaults and resolves a relative schema against the config folder', () => {
    const { config, warnings } = loadKratosConfig(minimal(), { baseDir: dir });
    assert.deepEqual(warnings, []);
    assert.equal(config.session.lifespanMs, 24 * 3600_000);
    assert.equal(config.flows.login.lifespanMs, 3600_000);
    assert.equal(config.flows.settings.privilegedSessionMaxAgeMs, 3600_000);
    assert.equal(config.flows.recovery.enabled, false);
    assert.equal(config.flows.verification.enabled, false);
    assert.equal(config.flows.login.uiUrl, 'https://www.ory.sh/kratos/docs/fallback/login');
    assert.equal(config.session.cookie.name, 'ory_kratos_session');
    assert.equal(config.schemas[0]?.raw, schema);
    assert.equal(config.flows.registration.after.password.sessionHook, false);
  });

  it('reads the quickstart keys', () => {
    const { config } = loadKratosConfig(
      minimal({
        session: { lifespan: '1h30m' },
        selfservice: {
          default_browser_return_url: 'http://127.0.0.1:4455/',
          whitelisted_return_urls: ['http://127.0.0.1:4455'],
          flows: {
            settings: { privileged_session_max_age: '15m' },
            recovery: { enabled: true },
            registration: { lifespan: '10m', after: { password: { hooks: [{ hook: 'session' }] } } },
          },
        },
      }),
      { baseDir: dir },
    );
    assert.equal(config.session.lifespanMs, 90 * 60_000);
    assert.equal(config.flows.settings.privilegedSessionMaxAgeMs, 15 * 60_000);
    assert.equal(config.flows.registration.lifespanMs, 10 * 60_000);
    assert.equal(config.flows.registration.after.password.sessionHook, true);
    assert.equal(config.flows.recovery.enabled, true);
    assert.deepEqual(config.whitelistedReturnUrls, ['http://127.0.0.1:4455']);
  });

  it('warns about unknown keys and ignores known-but-irrelevant ones', () => {
    const { warnings } = loadKratosConfig(
      minimal({ version: 'v0.6', log: { level: 'debug' }, serve: { public: { cors: { enabled: true } } }, frobnicate: { x: 1 } }),
      { baseDir: dir },
    );
    assert.deepEqual(warnings, ['frobnicate.x: unknown or unsupported key, ignored']);
    const oidc = loadKratosConfig(
      minimal({
        selfservice: { default_browser_return_url: 'http://x/', methods: { oidc: { enabled: true, config: { providers: [] } } } },
      }),
      { baseDir: dir },
    );
    assert.deepEqual(oidc.warnings, [
      'selfservice.methods.oidc.enabled: social sign-in is not supported by the embedded server; it stays off',
    ]);
  });

  it('warns and generates a secret when secrets.cookie is missing', () => {
    const raw = minimal();
    delete (raw as { secrets?: unknown }).secrets;
    const { config, warnings } = loadKratosConfig(raw, { baseDir: dir });
    assert.equal(config.cookieSecrets.length, 1);
    assert.match(warnings[0] ?? '', /^secrets\.cookie: not set/);
  });

  it('names the key and the reason for invalid values', () => {
    assert.equal(
      errorOf(minimal({ session: { lifespan: 'forever' } })),
      'session.lifespan: "forever" is not a duration like "1h", "15m" or "30s"',
    );
    assert.match(errorOf(minimal({ serve: { public: { base_url: 'not a url' } } })), /^serve\.public\.base_url: /);
    assert.match(errorOf(minimal({ secrets: { cookie: ['short'] } })), /^secrets\.cookie\.0: must be a string of at least 16 characters/);
    assert.match(
      errorOf(minimal({ identity: { default_schema_url: 'file://missing.json' } })),
      /^identity\.default_schema_url: cannot read .*missing\.json: ENOENT/,
    );
    assert.match(errorOf(minimal({ dsn: 'postgres://x' })), /^dsn: /);
    assert.match(
      errorOf(
        minimal({
          selfservice: {
            default_browser_return_url: 'http://x/',
            flows: { registration: { after: { password: { hooks: [{ hook: 'web_hook' }] } } } },
          },
        }),
      ),
      /hooks\.0\.hook: hook "web_hook" is not supported/,
    );
    assert.equal(
      errorOf({ identity: { default_schema_url: 'file://identity.schema.json' } }),
      'selfservice.default_browser_return_url: is required',
    );
    assert.equal(errorOf('nope'), '(root): the configuration must be a mapping');
  });

  it('checks the file against its JSON Schema: blocks must be mappings, an empty block is unset, an empty value is refused', () => {
    assert.equal(errorOf(minimal({ session: 'long' })), 'session: must be a mapping');
    assert.equal(loadKratosConfig(minimal({ session: null }), { baseDir: dir }).config.session.lifespanMs, 24 * 3600_000);
    assert.equal(errorOf(minimal({ session: { lifespan: null } })), 'session.lifespan: null is not a duration like "1h", "15m" or "30s"');
    assert.equal(
      errorOf(minimal({ session: { cookie: { same_site: 'lax' } } })),
      'session.cookie.same_site: must be one of Lax, Strict, None',
    );
    assert.equal(
      errorOf(minimal({ hashers: { argon2: { iterations: 1.5 } } })),
      'hashers.argon2.iterations: must be a non-negative integer',
    );
    assert.equal(
      errorOf(minimal({ identity: { default_schema_url: 'file://identity.schema.json', schemas: [{ id: 'default', url: 'x' }] } })),
      'identity.schemas.0.id: "default" is reserved for identity.default_schema_url',
    );
    assert.equal(
      errorOf(minimal({ kratos_gateway: { trusted_proxies: ['10.0.0.0/8', 'proxy'] } })),
      'kratos_gateway.trusted_proxies.1: "proxy" is not an IP address or CIDR',
    );
    const { warnings } = loadKratosConfig(
      minimal({ frobnicate: { a: 1, b: { c: [1] }, d: null }, session: { lifespan: '1h', colour: 'red' } }),
      {
        baseDir: dir,
      },
    );
    assert.deepEqual(warnings, [
      'frobnicate.a: unknown or unsupported key, ignored',
      'frobnicate.b.c: unknown or unsupported key, ignored',
      'session.colour: unknown or unsupported key, ignored',
    ]);
  });

  it('accepts base64:// schemas', () => {
    const { config } = loadKratosConfig(
      minimal({ identity: { default_schema_url: `base64://${Buffer.from(schema).toString('base64')}` } }),
      { baseDir: dir },
    );
    assert.equal(config.schemas[0]?.raw, schema);
  });
});

describe('parseDuration', () => {
  it('parses Go durations', () => {
    assert.equal(parseDuration('1h'), 3600_000);
    assert.equal(parseDuration('1h30m'), 5400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0'), 0);
    for (const bad of ['', 'h', '10', '1d', '1h 30m', '-1h']) assert.equal(parseDuration(bad), undefined, bad);
  });
});
