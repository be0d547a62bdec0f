/**
 * Environment overrides (src/config/env.ts): KRATOS_GATEWAY_ + the key path in upper case
 * with "__" between levels; values are read by the schema type of their key (strings
 * verbatim, numbers and booleans parsed, lists and maps as YAML flow collections).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEnvOverrides, ENV_PREFIX, type EnvOrigins } from '../../../src/config/env.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

function envError(config: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  try {
    applyEnvOverrides(config, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the environment to be rejected');
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('applyEnvOverrides', () => {
  test('the prefix is KRATOS_GATEWAY_', () => {
    assert.equal(ENV_PREFIX, 'KRATOS_GATEWAY_');
  });
  test('KRATOS_GATEWAY_KRATOS__PUBLIC_URL sets kratos.public_url and keeps siblings', () => {
    const out = applyEnvOverrides(
      { kratos: { public_url: 'http://a:4433', whoami_timeout_ms: 500 } },
      { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://kratos:4433' },
    );
    assert.deepEqual(out, { kratos: { public_url: 'http://kratos:4433', whoami_timeout_ms: 500 } });
  });
  test('missing sections are created', () => {
    assert.deepEqual(applyEnvOverrides({}, { KRATOS_GATEWAY_PROXY__LISTEN__HOST: '0.0.0.0' }), { proxy: { listen: { host: '0.0.0.0' } } });
  });
  test('values are typed by the schema type of their key', () => {
    const out = applyEnvOverrides(
      {},
      {
        KRATOS_GATEWAY_PROXY__LISTEN__PORT: '8080',
        KRATOS_GATEWAY_PROXY__STRIP_CREDENTIALS: 'false',
        KRATOS_GATEWAY_SESSION_CACHE__TTL_CAP_MS: '1500',
        KRATOS_GATEWAY_LOG__LEVEL: 'debug',
      },
    ) as {
      proxy: { listen: { port: unknown }; strip_credentials: unknown };
      session_cache: { ttl_cap_ms: unknown };
      log: { level: unknown };
    };
    assert.equal(out.proxy.listen.port, 8080);
    assert.equal(out.proxy.strip_credentials, false);
    assert.equal(out.session_cache.ttl_cap_ms, 1500);
    assert.equal(out.log.level, 'debug');
    const c = parseConfig(out);
    assert.equal(c.proxy.listen.port, 8080);
    assert.equal(c.proxy.strip_credentials, false);
  });
  test('a quoted number stays a string, and validation then names the key', () => {
    const out = applyEnvOverrides({}, { KRATOS_GATEWAY_PROXY__LISTEN__PORT: "'8080'" });
    assert.throws(
      () => parseConfig(out),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => /^proxy\.listen\.port: /.test(p)),
    );
  });
  test('flow lists and maps', () => {
    const out = applyEnvOverrides(
      {},
      {
        KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES: '[10.0.0.0/8, "fd00::/8"]',
        KRATOS_GATEWAY_IDENTITY_HEADERS: '{X-User-Email: identity.traits.email}',
      },
    );
    assert.deepEqual(out, {
      proxy: { trusted_proxies: ['10.0.0.0/8', 'fd00::/8'] },
      identity_headers: { 'X-User-Email': 'identity.traits.email' },
    });
    assert.deepEqual(parseConfig(out).proxy.trusted_proxies, ['10.0.0.0/8', 'fd00::/8']);
  });
  test('ROUTES__0__UPSTREAM overrides one field of an existing route', () => {
    const config = {
      routes: [
        { name: 'app', match: { path_prefix: '/' }, upstream: 'http://old:1' },
        { name: 'b', match: { path_prefix: '/b' }, upstream: 'http://b:1' },
      ],
    };
    const out = applyEnvOverrides(config, { KRATOS_GATEWAY_ROUTES__0__UPSTREAM: 'http://app:8080' });
    assert.deepEqual(out.routes, [
      { name: 'app', match: { path_prefix: '/' }, upstream: 'http://app:8080' },
      { name: 'b', match: { path_prefix: '/b' }, upstream: 'http://b:1' },
    ]);
  });
  test('a whole route can come from the environment', () => {
    const out = applyEnvOverrides(
      {},
      {
        KRATOS_GATEWAY_ROUTES__0__NAME: 'api',
        KRATOS_GATEWAY_ROUTES__0__MATCH__PATH_PREFIX: '/api',
        KRATOS_GATEWAY_ROUTES__0__MATCH__METHODS: '[GET, POST]',
        KRATOS_GATEWAY_ROUTES__0__UPSTREAM: 'http://api:8080',
        KRATOS_GATEWAY_ROUTES__0__AUTH: 'optional',
      },
    );
    assert.ok(Array.isArray(out.routes));
    const r = parseConfig(out).routes[0]!;
    assert.equal(r.name, 'api');
    assert.deepEqual(r.match, { path_prefix: '/api', methods: ['GET', 'POST'] });
    assert.equal(r.upstream, 'http://api:8080');
    assert.equal(r.auth, 'optional');
  });
  test('an environment value replaces a scalar that stood in the way', () => {
    const out = applyEnvOverrides({ proxy: 'oops' }, { KRATOS_GATEWAY_PROXY__LISTEN__PORT: '1' });
    assert.deepEqual(out, { proxy: { listen: { port: 1 } } });
  });
  test('variables without the prefix, and the bare prefix, are ignored', () => {
    const env = { KRATOS_PUBLIC_URL: 'x', KRATOS_GATEWAY_: 'x', PATH: '/bin', kratos_gateway_log__level: 'debug' };
    assert.deepEqual(applyEnvOverrides({ log: { level: 'info' } }, env), { log: { level: 'info' } });
  });
  test('an invalid YAML value is rejected with a message naming the variable', () => {
    const p = envError({}, { KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES: '[10.0.0.0/8' });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^KRATOS_GATEWAY_PROXY__TRUSTED_PROXIES: not a valid YAML value \(/);
    assert.doesNotMatch(p[0]!, /\n/);
  });
  test('duplicate keys in a flow map value are rejected', () => {
    const p = envError({}, { KRATOS_GATEWAY_IDENTITY_HEADERS: '{X-A: identity.id, X-A: session.id}' });
    assert.match(p[0]!, /^KRATOS_GATEWAY_IDENTITY_HEADERS: not a valid YAML value/);
  });
  test('an empty key segment is rejected with a message naming the variable', () => {
    const p = envError({}, { KRATOS_GATEWAY_PROXY____PORT: '1' });
    assert.match(p[0]!, /^KRATOS_GATEWAY_PROXY____PORT: empty key segment/);
    assert.match(envError({}, { KRATOS_GATEWAY_PROXY__: '1' })[0]!, /^KRATOS_GATEWAY_PROXY__: /);
  });
  test('a non-index key under a list is rejected', () => {
    const p = envError({ routes: [] }, { KRATOS_GATEWAY_ROUTES__NAME: 'x' });
    assert.match(p[0]!, /^KRATOS_GATEWAY_ROUTES__NAME: "routes" is a list; "name" is not an index$/);
  });
  test('an empty value for a URL key is an empty string, which validation then reports by key', () => {
    const out = applyEnvOverrides({}, { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: '' });
    assert.throws(
      () => parseConfig(out),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('kratos.public_url: ')),
    );
  });
  test('an unknown key from the environment names the variable and the closest key', () => {
    const origins: EnvOrigins = new Map();
    const out = applyEnvOverrides({}, { KRATOS_GATEWAY_PROXY__LISTEN__PROT: '1', KRATOS_GATEWAY_SESSION_CACH__ENABLED: 'false' }, origins);
    assert.deepEqual(problemsOf(() => parseConfig(out, origins)).sort(), [
      'KRATOS_GATEWAY_PROXY__LISTEN__PROT (proxy.listen.prot): unknown key (did you mean port?)',
      'KRATOS_GATEWAY_SESSION_CACH__ENABLED (session_cach): unknown key (did you mean session_cache?)',
    ]);
    // Without the origins (a raw object, not the environment) the line names the key only.
    assert.ok(problemsOf(() => parseConfig(out)).includes('proxy.listen.prot: unknown key (did you mean port?)'));
  });
  test('string keys keep the value verbatim: no YAML reading of ":", "#", quotes or "null"', () => {
    const env = {
      KRATOS_GATEWAY_EMBEDDED_KRATOS__DSN: ':memory:',
      KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://kratos:4433/#x',
      KRATOS_GATEWAY_KRATOS__SESSION_COOKIE: "'quoted'",
      KRATOS_GATEWAY_PROXY__LISTEN__HOST: 'null',
      KRATOS_GATEWAY_ROUTES__0__NAME: '0123',
      'KRATOS_GATEWAY_IDENTITY_HEADERS__X-USER': 'identity.traits.email',
    };
    const out = applyEnvOverrides({}, env) as Record<string, Record<string, unknown>>;
    assert.deepEqual(out.embedded_kratos, { dsn: ':memory:' });
    assert.deepEqual(out.kratos, { public_url: 'http://kratos:4433/#x', session_cookie: "'quoted'" });
    assert.deepEqual(out.proxy, { listen: { host: 'null' } });
    assert.deepEqual(out.routes, [{ name: '0123' }]);
    assert.deepEqual(out.identity_headers, { 'x-user': 'identity.traits.email' });
    assert.equal(parseConfig(applyEnvOverrides({}, { KRATOS_GATEWAY_EMBEDDED_KRATOS__DSN: ':memory:' })).embedded_kratos.dsn, ':memory:');
  });
  test('a URL with " #" is kept whole, so validation reports it instead of silently cutting it', () => {
    const origins: EnvOrigins = new Map();
    const out = applyEnvOverrides({}, { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://kratos:4433 #x' }, origins);
    assert.deepEqual(out, { kratos: { public_url: 'http://kratos:4433 #x' } });
    assert.deepEqual(
      problemsOf(() => parseConfig(out, origins)),
      ['KRATOS_GATEWAY_KRATOS__PUBLIC_URL (kratos.public_url): must be an absolute http(s) URL'],
    );
  });
  test('numbers and booleans are parsed; a value that is not one is reported with the variable', () => {
    const out = applyEnvOverrides(
      {},
      { KRATOS_GATEWAY_PROXY__LISTEN__PORT: ' 8080 ', KRATOS_GATEWAY_UI__ENABLED: 'FALSE', KRATOS_GATEWAY_LOG__ACCESS_LOG: 'true' },
    );
    assert.deepEqual(out, { proxy: { listen: { port: 8080 } }, ui: { enabled: false }, log: { access_log: true } });
    const origins: EnvOrigins = new Map();
    const bad = applyEnvOverrides({}, { KRATOS_GATEWAY_PROXY__LISTEN__PORT: 'eighty', KRATOS_GATEWAY_UI__ENABLED: 'yes' }, origins);
    assert.deepEqual(problemsOf(() => parseConfig(bad, origins)).sort(), [
      'KRATOS_GATEWAY_PROXY__LISTEN__PORT (proxy.listen.port): expected number, received string',
      'KRATOS_GATEWAY_UI__ENABLED (ui.enabled): expected boolean, received string',
    ]);
  });
  test('an error inside a list or map set as a whole names the variable that set it', () => {
    const origins: EnvOrigins = new Map();
    const out = applyEnvOverrides({}, { KRATOS_GATEWAY_LOGIN__ALLOWED_RETURN_TO_HOSTS: '[ok.example, "https://bad"]' }, origins);
    assert.deepEqual(
      problemsOf(() => parseConfig(out, origins)),
      ['KRATOS_GATEWAY_LOGIN__ALLOWED_RETURN_TO_HOSTS (login.allowed_return_to_hosts.1): must be host or host:port'],
    );
  });
  test('application is deterministic: overrides are applied in sorted name order', () => {
    const env = { KRATOS_GATEWAY_PROXY__LISTEN: '{port: 1}', KRATOS_GATEWAY_PROXY__LISTEN__PORT: '2' };
    const a = applyEnvOverrides({}, env);
    const b = applyEnvOverrides({}, Object.fromEntries(Object.entries(env).reverse()));
    assert.deepEqual(a, b);
    assert.deepEqual(a, { proxy: { listen: { port: 2 } } });
  });
});
