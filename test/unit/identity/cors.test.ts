/**
 * serve.public.cors behaves as rs/cors v1.6.0 (the version Kratos v0.6 pins): rs/cors's own
 * table of cases (cors_test.go TestSpec, without the origin-function options Kratos does not
 * use), and the configuration with Kratos's defaults and its schema's limits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KratosConfigError, loadKratosConfig } from '../../../src/identity/index.js';
import { canonicalHeaderKey, Cors, parseHeaderList, type CorsSettings } from '../../../src/identity/x/cors.js';

/** rs/cors's Options zero value: nothing allowed explicitly, so its defaults apply. */
const NONE: CorsSettings = {
  allowedOrigins: [],
  allowedMethods: [],
  allowedHeaders: [],
  exposedHeaders: [],
  allowCredentials: false,
  maxAge: 0,
  optionsPassthrough: false,
};

const CORS_HEADERS = [
  'Vary',
  'Access-Control-Allow-Origin',
  'Access-Control-Allow-Methods',
  'Access-Control-Allow-Headers',
  'Access-Control-Allow-Credentials',
  'Access-Control-Max-Age',
  'Access-Control-Expose-Headers',
];

/** The CORS headers an answer carries, repeated ones joined with ", " as rs/cors's test reads them. */
function answer(options: Partial<CorsSettings>, method: string, req: Record<string, string>): Record<string, string> {
  const cors = new Cors({ ...NONE, ...options });
  const requestMethod = req['Access-Control-Request-Method'] ?? '';
  const lines =
    method === 'OPTIONS' && requestMethod !== ''
      ? cors.preflight(req.Origin ?? '', requestMethod, req['Access-Control-Request-Headers'] ?? '')
      : cors.actual(method, req.Origin ?? '');
  const out: Record<string, string> = {};
  for (const [name, value] of lines) out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  for (const name of Object.keys(out)) assert.ok(CORS_HEADERS.includes(name), name);
  return out;
}

const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

describe('rs/cors v1.6.0 TestSpec', () => {
  const cases: Array<[string, Partial<CorsSettings>, string, Record<string, string>, Record<string, string>]> = [
    ['NoConfig', {}, 'GET', {}, { Vary: 'Origin' }],
    [
      'MatchAllOrigin',
      { allowedOrigins: ['*'] },
      'GET',
      { Origin: 'http://foobar.com' },
      { Vary: 'Origin', 'Access-Control-Allow-Origin': '*' },
    ],
    [
      'MatchAllOriginWithCredentials',
      { allowedOrigins: ['*'], allowCredentials: true },
      'GET',
      { Origin: 'http://foobar.com' },
      { Vary: 'Origin', 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Credentials': 'true' },
    ],
    [
      'AllowedOrigin',
      { allowedOrigins: ['http://foobar.com'] },
      'GET',
      { Origin: 'http://foobar.com' },
      { Vary: 'Origin', 'Access-Control-Allow-Origin': 'http://foobar.com' },
    ],
    [
      'WildcardOrigin',
      { allowedOrigins: ['http://*.bar.com'] },
      'GET',
      { Origin: 'http://foo.bar.com' },
      { Vary: 'Origin', 'Access-Control-Allow-Origin': 'http://foo.bar.com' },
    ],
    ['DisallowedOrigin', { allowedOrigins: ['http://foobar.com'] }, 'GET', { Origin: 'http://barbaz.com' }, { Vary: 'Origin' }],
    ['DisallowedWildcardOrigin', { allowedOrigins: ['http://*.bar.com'] }, 'GET', { Origin: 'http://foo.baz.com' }, { Vary: 'Origin' }],
    [
      'MaxAge',
      { allowedOrigins: ['http://example.com/'], allowedMethods: ['GET'], maxAge: 10 },
      'OPTIONS',
      { Origin: 'http://example.com/', 'Access-Control-Request-Method': 'GET' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://example.com/',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Max-Age': '10',
      },
    ],
    [
      'AllowedMethod',
      { allowedOrigins: ['http://foobar.com'], allowedMethods: ['PUT', 'DELETE'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'PUT' },
      { Vary: PREFLIGHT_VARY, 'Access-Control-Allow-Origin': 'http://foobar.com', 'Access-Control-Allow-Methods': 'PUT' },
    ],
    [
      'DisallowedMethod',
      { allowedOrigins: ['http://foobar.com'], allowedMethods: ['PUT', 'DELETE'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'PATCH' },
      { Vary: PREFLIGHT_VARY },
    ],
    [
      'AllowedHeaders',
      { allowedOrigins: ['http://foobar.com'], allowedHeaders: ['X-Header-1', 'x-header-2'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'X-Header-2, X-HEADER-1' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://foobar.com',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Headers': 'X-Header-2, X-Header-1',
      },
    ],
    [
      'DefaultAllowedHeaders',
      { allowedOrigins: ['http://foobar.com'], allowedHeaders: [] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'X-Requested-With' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://foobar.com',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Headers': 'X-Requested-With',
      },
    ],
    [
      'AllowedWildcardHeader',
      { allowedOrigins: ['http://foobar.com'], allowedHeaders: ['*'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'X-Header-2, X-HEADER-1' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://foobar.com',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Headers': 'X-Header-2, X-Header-1',
      },
    ],
    [
      'DisallowedHeader',
      { allowedOrigins: ['http://foobar.com'], allowedHeaders: ['X-Header-1', 'x-header-2'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'X-Header-3, X-Header-1' },
      { Vary: PREFLIGHT_VARY },
    ],
    [
      'OriginHeader',
      { allowedOrigins: ['http://foobar.com'] },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'origin' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://foobar.com',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Headers': 'Origin',
      },
    ],
    [
      'ExposedHeader',
      { allowedOrigins: ['http://foobar.com'], exposedHeaders: ['X-Header-1', 'x-header-2'] },
      'GET',
      { Origin: 'http://foobar.com' },
      { Vary: 'Origin', 'Access-Control-Allow-Origin': 'http://foobar.com', 'Access-Control-Expose-Headers': 'X-Header-1, X-Header-2' },
    ],
    [
      'AllowedCredentials',
      { allowedOrigins: ['http://foobar.com'], allowCredentials: true },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET' },
      {
        Vary: PREFLIGHT_VARY,
        'Access-Control-Allow-Origin': 'http://foobar.com',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Credentials': 'true',
      },
    ],
    [
      'OptionPassthrough',
      { optionsPassthrough: true },
      'OPTIONS',
      { Origin: 'http://foobar.com', 'Access-Control-Request-Method': 'GET' },
      { Vary: PREFLIGHT_VARY, 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET' },
    ],
    ['NonPreflightOptions', { allowedOrigins: ['http://foobar.com'] }, 'OPTIONS', {}, {}],
  ];
  for (const [name, options, method, req, expected] of cases) {
    it(name, () => assert.deepEqual(answer(options, method, req), expected));
  }
});

describe('rs/cors rules Kratos users meet', () => {
  it('origins compare case-insensitively and are answered as sent', () => {
    assert.deepEqual(answer({ allowedOrigins: ['HTTPS://App.Example.com'] }, 'GET', { Origin: 'https://app.EXAMPLE.com' }), {
      Vary: 'Origin',
      'Access-Control-Allow-Origin': 'https://app.EXAMPLE.com',
    });
  });

  it('one * stands for any run of characters between the parts before and after it', () => {
    const cors = new Cors({ ...NONE, allowedOrigins: ['https://*.example.com'] });
    assert.equal(cors.isOriginAllowed('https://a.b.example.com'), true);
    assert.equal(cors.isOriginAllowed('https://.example.com'), true);
    assert.equal(cors.isOriginAllowed('https://example.com'), false);
    assert.equal(cors.isOriginAllowed('http://a.example.com'), false);
    assert.equal(cors.isOriginAllowed('https://a.example.com.evil.test'), false);
  });

  it('an empty method list allows GET, POST and HEAD; OPTIONS is always allowed', () => {
    const cors = new Cors(NONE);
    for (const m of ['GET', 'post', 'HEAD', 'OPTIONS']) assert.equal(cors.isMethodAllowed(m), true, m);
    for (const m of ['PUT', 'PATCH', 'DELETE']) assert.equal(cors.isMethodAllowed(m), false, m);
    assert.deepEqual(answer({ allowedOrigins: ['http://a.test'] }, 'PUT', { Origin: 'http://a.test' }), { Vary: 'Origin' });
  });

  it('requested header names are tokenised and canonicalised like Go', () => {
    assert.deepEqual(parseHeaderList('x-session-token,content-type'), ['X-Session-Token', 'Content-Type']);
    assert.deepEqual(parseHeaderList(' ,  x_custom.header  ,,a'), ['X_Customheader', 'A']);
    assert.equal(canonicalHeaderKey('x-SESSION-token'), 'X-Session-Token');
    assert.equal(canonicalHeaderKey('x_custom'), 'X_custom');
    assert.equal(canonicalHeaderKey('bad header'), 'bad header');
  });
});

const dir = mkdtempSync(join(tmpdir(), 'identity-cors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'identity.schema.json'), JSON.stringify({ type: 'object', properties: { traits: { type: 'object' } } }));
const kratosYml = (cors: Record<string, unknown>) => ({
  selfservice: { default_browser_return_url: 'http://127.0.0.1:4455/' },
  identity: { default_schema_url: 'file://identity.schema.json' },
  secrets: { cookie: ['0123456789abcdef0123'] },
  serve: { public: { cors } },
});

describe('serve.public.cors', () => {
  it("is off unless enabled, with Kratos v0.6's defaults (its configuration schema's)", () => {
    const { config, warnings } = loadKratosConfig(kratosYml({ enabled: true }), { baseDir: dir });
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.publicCors, {
      enabled: true,
      allowedOrigins: ['*'],
      allowedMethods: ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Session-Token'],
      exposedHeaders: ['Content-Type'],
      allowCredentials: true,
      optionsPassthrough: false,
      maxAge: 0,
      debug: false,
    });
    assert.equal(loadKratosConfig(kratosYml({}), { baseDir: dir }).config.publicCors.enabled, false);
  });

  it('refuses what Kratos v0.6 refuses, by key', () => {
    const errorOf = (cors: Record<string, unknown>) => {
      try {
        loadKratosConfig(kratosYml(cors), { baseDir: dir });
      } catch (e) {
        assert.ok(e instanceof KratosConfigError);
        return e.message;
      }
      assert.fail('expected a KratosConfigError');
    };
    assert.equal(
      errorOf({ allowed_origins: ['https://*.*.example.com'] }),
      'serve.public.cors.allowed_origins.0: "https://*.*.example.com" is not an origin: "*", or a URL like "https://app.example.com" with at most one "*"',
    );
    assert.match(
      errorOf({ allowed_origins: ['app.example.com'] }),
      /^serve\.public\.cors\.allowed_origins\.0: "app\.example\.com" is not an origin/,
    );
    assert.equal(
      errorOf({ allowed_origins: ['https://a.test', 'https://a.test'] }),
      'serve.public.cors.allowed_origins: must be a list of origins, each named once',
    );
    assert.equal(
      errorOf({ allowed_methods: ['GET', 'FETCH'] }),
      'serve.public.cors.allowed_methods.1: "FETCH" is not one of POST, GET, PUT, PATCH, DELETE, CONNECT, HEAD, OPTIONS, TRACE',
    );
    assert.equal(errorOf({ max_age: -1 }), 'serve.public.cors.max_age: must be a non-negative integer');
    assert.equal(errorOf({ enabled: 'yes' }), 'serve.public.cors.enabled: must be true or false');
    assert.equal(errorOf({ allowed_headers: 'Authorization' }), 'serve.public.cors.allowed_headers: must be a list of header names');
  });
});
