/**
 * parseConfig (src/config/load.ts + schema.ts): secure defaults, and every problem reported
 * as `key.path: reason`, all at once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.message, err.problems.join('\n'));
    assert.ok(err.problems.length > 0);
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

const ROUTE = { name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:4500' };

describe('defaults', () => {
  test('an empty config is valid and secure', () => {
    for (const raw of [{}, undefined, null]) {
      const c = parseConfig(raw);
      assert.deepEqual(c.proxy.listen, { host: '127.0.0.1', port: 4455 });
      assert.deepEqual(c.admin.listen, { host: '127.0.0.1', port: 4456 });
      assert.deepEqual(c.proxy.trusted_proxies, []);
      assert.equal(c.proxy.strip_credentials, true);
      assert.equal(c.kratos.session_cookie, 'ory_kratos_session');
      assert.equal(c.kratos.mount_prefix, '/.ory/kratos/public');
      assert.equal(c.embedded_kratos.enabled, false);
      assert.equal(c.demo_upstream.enabled, false);
      assert.deepEqual(c.routes, []);
    }
  });
  test('route defaults: auth required, on_unauthenticated auto', () => {
    const r = parseConfig({ routes: [ROUTE] }).routes[0]!;
    assert.equal(r.auth, 'required');
    assert.equal(r.on_unauthenticated, 'auto');
  });
});

describe('schema errors carry exact key paths', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['port out of range', { proxy: { listen: { port: 70000 } } }, /^proxy\.listen\.port: /],
    ['port as a string', { proxy: { listen: { port: '80' } } }, /^proxy\.listen\.port: .*string/],
    ['negative port', { admin: { listen: { port: -1 } } }, /^admin\.listen\.port: /],
    ['fractional timeout', { kratos: { whoami_timeout_ms: 1.5 } }, /^kratos\.whoami_timeout_ms: /],
    ['non-URL upstream', { routes: [{ ...ROUTE, upstream: 'not a url' }] }, /^routes\.0\.upstream: must be an absolute http\(s\) URL$/],
    [
      'ftp upstream',
      { routes: [ROUTE, { ...ROUTE, name: 'b', upstream: 'ftp://x' }] },
      /^routes\.1\.upstream: must be an absolute http\(s\) URL$/,
    ],
    ['bad public_url', { kratos: { public_url: 'kratos:4433' } }, /^kratos\.public_url: /],
    [
      'both prefix and glob',
      { routes: [{ ...ROUTE, match: { path_prefix: '/a', path_glob: '/a/*' } }] },
      /^routes\.0\.match: exactly one of path_prefix or path_glob/,
    ],
    ['neither prefix nor glob', { routes: [{ ...ROUTE, match: {} }] }, /^routes\.0\.match: exactly one/],
    ['prefix with a trailing slash', { routes: [{ ...ROUTE, match: { path_prefix: '/api/' } }] }, /^routes\.0\.match\.path_prefix: /],
    ['unknown auth mode', { routes: [{ ...ROUTE, auth: 'maybe' }] }, /^routes\.0\.auth: /],
    [
      'lower-case method',
      { routes: [{ ...ROUTE, match: { path_prefix: '/', methods: ['get'] } }] },
      /^routes\.0\.match\.methods\.0: upper-case HTTP method$/,
    ],
    ['route name with a space', { routes: [{ ...ROUTE, name: 'my app' }] }, /^routes\.0\.name: /],
    [
      'header mapping to an unknown path',
      { identity_headers: { 'X-A': 'identity.credentials.password' } },
      /^identity_headers\.X-A: must be identity\.id/,
    ],
    ['header name with "_"', { identity_headers: { X_User: 'identity.id' } }, /^identity_headers\.X_User: /],
    ['bad cookie name', { kratos: { session_cookie: 'a b' } }, /^kratos\.session_cookie: must be a valid cookie name$/],
    [
      'bad return_to host',
      { login: { allowed_return_to_hosts: ['https://x.example'] } },
      /^login\.allowed_return_to_hosts\.0: must be host or host:port$/,
    ],
    ['bad log level', { log: { level: 'verbose' } }, /^log\.level: /],
    ['wrong type for a section', { proxy: 'yes' }, /^proxy: /],
  ];
  for (const [why, raw, re] of cases) {
    test(why, () => {
      const p = problems(raw);
      assert.ok(
        p.some((line) => re.test(line)),
        `${JSON.stringify(p)} has no line matching ${re}`,
      );
    });
  }
  test('unknown keys are named with their path', () => {
    const p = problems({ proxxy: {}, proxy: { listen: { hots: 'x' } }, routes: [{ ...ROUTE, upstrem: 'x' }] });
    assert.ok(p.includes('proxxy: unknown key (did you mean proxy?)'), JSON.stringify(p));
    assert.ok(p.includes('proxy.listen.hots: unknown key (did you mean host?)'), JSON.stringify(p));
    assert.ok(p.includes('routes.0.upstrem: unknown key (did you mean upstream?)'), JSON.stringify(p));
  });
  test('several unknown keys in one object get a line each; no suggestion when nothing is close', () => {
    assert.deepEqual(problems({ a: 1, session_cach: {}, kratos: { whoami_timeout: 1, zzzzzzzz: 2 } }).sort(), [
      'a: unknown key',
      'kratos.whoami_timeout: unknown key (did you mean whoami_timeout_ms?)',
      'kratos.zzzzzzzz: unknown key',
      'session_cach: unknown key (did you mean session_cache?)',
    ]);
  });
  test('every problem is reported at once, one line each', () => {
    const p = problems({ proxy: { listen: { port: 70000 } }, routes: [{ ...ROUTE, upstream: 'x' }], log: { level: 'loud' } });
    assert.equal(p.length, 3, JSON.stringify(p));
    for (const line of p) assert.doesNotMatch(line, /\n/);
  });
});

describe('cross-key rules', () => {
  test('duplicate routes name both routes', () => {
    const p = problems({ routes: [ROUTE, { ...ROUTE, name: 'other' }] });
    assert.deepEqual(p, ['routes.1 ("other") matches exactly the same requests as routes.0 ("app"); one of them could never be chosen']);
  });
  test('duplicate route names', () => {
    const p = problems({ routes: [ROUTE, { ...ROUTE, match: { path_prefix: '/x' } }] });
    assert.match(p[0]!, /^routes\.1\.name: "app"/);
  });
  test('strip_prefix not a prefix of the match', () => {
    assert.match(
      problems({ routes: [{ ...ROUTE, match: { path_prefix: '/api' }, strip_prefix: '/other' }] })[0]!,
      /^routes\.0\.strip_prefix: /,
    );
  });
  test('upstream_protocol: http1 by default; h2 needs an https upstream and h2c an http one, named by key', () => {
    assert.equal(parseConfig({ routes: [ROUTE] }).routes[0]!.upstream_protocol, 'http1');
    assert.equal(parseConfig({ routes: [{ ...ROUTE, upstream_protocol: 'h2c' }] }).routes[0]!.upstream_protocol, 'h2c');
    assert.equal(
      parseConfig({ routes: [{ ...ROUTE, upstream: 'https://grpc:443', upstream_protocol: 'h2' }] }).routes[0]!.upstream_protocol,
      'h2',
    );
    assert.deepEqual(problems({ routes: [ROUTE, { ...ROUTE, name: 'b', match: { path_prefix: '/b' }, upstream_protocol: 'h2' }] }), [
      'routes.1.upstream_protocol: h2 needs an https upstream (h2c is HTTP/2 without TLS)',
    ]);
    assert.deepEqual(problems({ routes: [{ ...ROUTE, upstream: 'https://grpc:443', upstream_protocol: 'h2c' }] }), [
      'routes.0.upstream_protocol: h2c needs an http upstream (h2 is HTTP/2 over TLS)',
    ]);
    assert.match(problems({ routes: [{ ...ROUTE, upstream_protocol: 'http2' }] })[0]!, /^routes\.0\.upstream_protocol: /);
  });
  test('invalid trusted proxies name their index', () => {
    assert.match(problems({ proxy: { trusted_proxies: ['10.0.0.0/8', 'nope'] } })[0]!, /^proxy\.trusted_proxies\.1: "nope"/);
    assert.match(problems({ proxy: { trusted_proxies: ['10.0.0.0/'] } })[0]!, /^proxy\.trusted_proxies\.0: /);
  });
  test('route and trusted-proxy problems are reported together', () => {
    const p = problems({ routes: [ROUTE, { ...ROUTE, name: 'b' }], proxy: { trusted_proxies: ['x'] } });
    assert.equal(p.length, 2);
    assert.match(p[0]!, /^routes\.1 /);
    assert.match(p[1]!, /^proxy\.trusted_proxies\.0: /);
  });
  test('ui.prefix may not overlap the Kratos mount', () => {
    assert.match(problems({ ui: { prefix: '/.ory' } })[0]!, /^ui\.prefix: "\/\.ory" overlaps kratos\.mount_prefix/);
    assert.match(problems({ ui: { prefix: '/.ory/kratos/public' } })[0]!, /^ui\.prefix: /);
    assert.doesNotThrow(() => parseConfig({ ui: { prefix: '/.ory', enabled: false } }));
    assert.doesNotThrow(() => parseConfig({ ui: { prefix: '/.ory' }, kratos: { mount_prefix: '' } }));
  });
  test('a headers timeout longer than the request timeout is a config error, not a RangeError from Node', () => {
    assert.deepEqual(problems({ proxy: { headers_timeout_ms: 400_000, request_timeout_ms: 300_000 } }), [
      'proxy.headers_timeout_ms: must not exceed proxy.request_timeout_ms',
    ]);
    parseConfig({ proxy: { headers_timeout_ms: 400_000, request_timeout_ms: 0 } });
    parseConfig({ proxy: { headers_timeout_ms: 0, request_timeout_ms: 1_000 } });
  });
  test('admin.allowed_hosts takes host names without ports', () => {
    assert.deepEqual(parseConfig({ admin: { allowed_hosts: ['Admin.Internal'] } }).admin.allowed_hosts, ['Admin.Internal']);
    assert.deepEqual(problems({ admin: { allowed_hosts: ['admin:4456'] } }), ['admin.allowed_hosts.0: must be a host name, without port']);
  });
  test('embedded_kratos.enabled needs a config_file', () => {
    assert.deepEqual(problems({ embedded_kratos: { enabled: true } }), [
      'embedded_kratos.config_file: required when embedded_kratos.enabled is true',
    ]);
  });
});

describe('identity_assertion.tokenize_as', () => {
  test('a template name enables Kratos-signed assertions', () => {
    const c = parseConfig({ identity_assertion: { enabled: true, tokenize_as: 'jwt_example-1.v2' } });
    assert.equal(c.identity_assertion.tokenize_as, 'jwt_example-1.v2');
  });
  test('a name outside the safe charset is refused with its key path', () => {
    for (const name of ['', 'a b', 'a&b=c', '../x', '-x', 'x'.repeat(129)]) {
      assert.match(problems({ identity_assertion: { enabled: true, tokenize_as: name } })[0]!, /^identity_assertion\.tokenize_as: /);
    }
  });
  test('local signing keys are refused beside it, each with its key path', () => {
    const p = problems({
      identity_assertion: {
        enabled: true,
        tokenize_as: 't',
        key_file: 'k.pem',
        algorithm: 'ES256',
        ttl_ms: 60_000,
        audience: 'a',
        claims: { e: 'identity.traits.email' },
      },
      routes: [{ ...ROUTE, identity_assertion_audience: 'x' }],
    });
    assert.deepEqual(
      p.map((l) => l.split(':')[0]),
      [
        'identity_assertion.key_file',
        'identity_assertion.algorithm',
        'identity_assertion.ttl_ms',
        'identity_assertion.audience',
        'identity_assertion.claims',
        'routes.0.identity_assertion_audience',
      ],
    );
    assert.ok(p.every((l) => l.includes('not used with identity_assertion.tokenize_as')));
  });
  test('it needs the assertion enabled, and a Kratos that can tokenize', () => {
    assert.deepEqual(problems({ identity_assertion: { tokenize_as: 't' } }), [
      'identity_assertion.tokenize_as: needs identity_assertion.enabled: true',
    ]);
    const embedded = problems({
      identity_assertion: { enabled: true, tokenize_as: 't' },
      embedded_kratos: { enabled: true, config_file: 'k.yml' },
    });
    assert.match(embedded.join('\n'), /^identity_assertion\.tokenize_as: the embedded identity server/m);
  });
});

describe('session_cache.shared and proxy.workers', () => {
  test('a Redis URL: redis:// or rediss:// with a host, no query string (the client would read options from it)', () => {
    assert.equal(
      parseConfig({ session_cache: { shared: { redis_url: 'rediss://gw@redis:6380/0' } } }).session_cache.shared.redis_url,
      'rediss://gw@redis:6380/0',
    );
    assert.deepEqual(problems({ session_cache: { shared: { redis_url: 'http://redis:6379' } } }), [
      'session_cache.shared.redis_url: must be a redis:// or rediss:// URL with a host',
    ]);
    assert.deepEqual(problems({ session_cache: { shared: { redis_url: 'redis://redis:6379/?password=x' } } }), [
      'session_cache.shared.redis_url: must not have a query string or fragment',
    ]);
  });

  test('revalidate_after_ms below ttl_cap_ms, a password file only with a URL, workers a number or auto', () => {
    assert.deepEqual(problems({ session_cache: { ttl_cap_ms: 1_000, revalidate_after_ms: 1_000 } }), [
      'session_cache.revalidate_after_ms: must be less than session_cache.ttl_cap_ms (an entry is never older than the cap)',
    ]);
    assert.deepEqual(problems({ session_cache: { shared: { password_file: 'pw' } } }), [
      'session_cache.shared.password_file: needs session_cache.shared.redis_url',
    ]);
    assert.deepEqual(problems({ proxy: { workers: 'many' } }), ['proxy.workers: must be a whole number from 1 to 256, or "auto"']);
    assert.equal(parseConfig({ proxy: { workers: 'auto' } }).proxy.workers, 'auto');
  });
});
