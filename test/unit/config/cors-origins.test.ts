/**
 * `routes[].cors.allowed_origins` (src/config/cors-origins.ts): which `Origin` values a route's
 * CORS policy allows, compared as the URL parser serializes origins, and the configuration
 * errors for what is not an origin, `null`, and `*` with credentials.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OriginMatcher, parseOriginPattern } from '../../../src/config/cors-origins.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const matcher = new OriginMatcher(['https://app.test', 'https://*.example.com', 'http://*.dev.example.org:8080']);

describe('origin matching', () => {
  test('exact origins and one-label wildcards; scheme and port exact', () => {
    const allowed = ['https://app.test', 'https://a.example.com', 'https://xn--bcher-kva.example.com', 'http://x.dev.example.org:8080'];
    for (const o of allowed) assert.equal(matcher.allows(o), true, o);
    const refused = [
      'https://example.com', // the wildcard needs a label
      'https://a.b.example.com', // exactly one label
      'http://a.example.com', // scheme
      'https://a.example.com:8443', // port
      'http://x.dev.example.org', // port (default, not 8080)
      'https://app.test:443', // not serialized: the default port is dropped by browsers
      'https://App.test', // not serialized: browsers send lower case
      'https://app.test/', // a path
      'https://evil.com?.example.com',
      'https://evil.com#.example.com',
      'https://a.example.com@evil.com',
      'https://evil.com/.example.com',
      'https://a.example.com.evil.com',
      'https://aexample.com',
      'https://app.test, https://evil.com', // the header sent twice
      'null',
      '',
      'app.test',
    ];
    for (const o of refused) assert.equal(matcher.allows(o), false, o);
  });

  test('"*" allows any serialized http(s) origin, never "null" or another scheme', () => {
    const any = new OriginMatcher(['*']);
    assert.equal(any.allows('https://anything.example'), true);
    assert.equal(any.allows('http://127.0.0.1:3000'), true);
    for (const o of ['null', 'file://', 'chrome-extension://abc', 'https://x.example/path']) assert.equal(any.allows(o), false, o);
  });

  test('property: whatever is allowed is one serialized origin under an allowed pattern', () => {
    const piece = fc.constantFrom(
      'https://',
      'http://',
      'a',
      'B',
      '.',
      '-',
      'example.com',
      'app.test',
      'evil.com',
      '?',
      '#',
      '@',
      '/',
      ':',
      ':443',
      ':8080',
      '%2e',
      '*',
      ',',
      ' ',
      '\\',
      'dev.example.org',
      'null',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (parts) => {
        const o = parts.join('');
        if (!matcher.allows(o)) return;
        const u = new URL(o);
        assert.equal(`${u.protocol}//${u.host}`, o);
        const labels = u.hostname.split('.');
        const ok =
          o === 'https://app.test' ||
          (u.protocol === 'https:' && u.port === '' && labels.length === 3 && labels.slice(1).join('.') === 'example.com') ||
          (u.protocol === 'http:' && u.port === '8080' && labels.length === 4 && labels.slice(1).join('.') === 'dev.example.org');
        assert.ok(ok, o);
      }),
      { numRuns: 3000 },
    );
  });

  test('property: every one-label subdomain is allowed, deeper or other-scheme ones are not', () => {
    const label = fc
      .stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/)
      .filter((l) => !l.startsWith('xn--') && l.slice(2, 4) !== '--');
    fc.assert(
      fc.property(label, label, (a, b) => {
        assert.equal(matcher.allows(`https://${a}.example.com`), true);
        assert.equal(matcher.allows(`https://${a}.${b}.example.com`), false);
        assert.equal(matcher.allows(`http://${a}.example.com`), false);
        assert.equal(matcher.allows(`https://${a}.example.com:444`), false);
      }),
    );
  });
});

describe('allowed_origins configuration', () => {
  const route = (cors: Record<string, unknown>) => ({
    routes: [{ name: 'api', match: { path_prefix: '/api' }, upstream: 'http://127.0.0.1:4500', cors }],
  });
  function problems(cors: Record<string, unknown>): string[] {
    try {
      parseConfig(route(cors));
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems;
    }
    assert.fail('expected a configuration error');
  }

  test('a valid policy gets its defaults', () => {
    const c = parseConfig(route({ allowed_origins: ['https://app.example.com', 'https://*.example.com'] })).routes[0]!.cors!;
    assert.deepEqual(c.allowed_methods, ['GET', 'HEAD', 'POST']);
    assert.deepEqual(c.allowed_headers, []);
    assert.deepEqual(c.exposed_headers, []);
    assert.equal(c.allow_credentials, false);
    assert.equal(c.max_age_s, undefined);
  });

  test('"*" with credentials names the key', () => {
    assert.deepEqual(problems({ allowed_origins: ['https://app.example.com', '*'], allow_credentials: true }), [
      'routes.0.cors.allowed_origins: "*" cannot be combined with allow_credentials: true (every site could read signed-in answers); list the origins',
    ]);
    assert.equal(parseConfig(route({ allowed_origins: ['*'] })).routes[0]!.cors!.allowed_origins[0], '*');
  });

  test('each bad origin is one error naming its index, with the spelling meant where there is one', () => {
    assert.deepEqual(
      problems({
        allowed_origins: [
          'null',
          'https://App.example.com',
          'https://app.example.com:443',
          'https://app.example.com/',
          'https://evil.com?.example.com',
          'app.example.com',
          'ftp://files.example.com',
          'https://a*.example.com',
          'https://*.com',
          'https://*.*.example.com',
        ],
      }),
      [
        'routes.0.cors.allowed_origins.0: "null" is never allowed: any page can make a browser send it (sandboxed frames, file: pages, redirects)',
        'routes.0.cors.allowed_origins.1: "https://App.example.com" is not written as browsers send it; write "https://app.example.com"',
        'routes.0.cors.allowed_origins.2: "https://app.example.com:443" is not written as browsers send it; write "https://app.example.com"',
        'routes.0.cors.allowed_origins.3: "https://app.example.com/" is not written as browsers send it; write "https://app.example.com"',
        'routes.0.cors.allowed_origins.4: "https://evil.com?.example.com" must be "*" or an origin such as https://app.example.com or https://*.example.com: an origin has no path, query, fragment or credentials',
        'routes.0.cors.allowed_origins.5: "app.example.com" must be "*" or an origin such as https://app.example.com or https://*.example.com',
        'routes.0.cors.allowed_origins.6: "ftp://files.example.com" must be "*" or an origin such as https://app.example.com or https://*.example.com (http or https)',
        'routes.0.cors.allowed_origins.7: "https://a*.example.com" may use "*" only as the whole first label of the host (https://*.example.com)',
        'routes.0.cors.allowed_origins.8: "https://*.com" needs at least two labels after "*." (https://*.example.com, not https://*.com)',
        'routes.0.cors.allowed_origins.9: "https://*.*.example.com" may use "*" only as the whole first label of the host (https://*.example.com)',
      ],
    );
  });

  test('methods, header names and max_age_s are checked by the schema', () => {
    assert.deepEqual(problems({ allowed_origins: [] }), ['routes.0.cors.allowed_origins: Too small: expected array to have >=1 items']);
    const p = problems({ allowed_origins: ['https://a.example.com'], allowed_methods: ['get'], allowed_headers: ['X Bad'], max_age_s: -1 });
    assert.equal(p.length, 3, p.join('\n'));
    assert.ok(p[0]!.startsWith('routes.0.cors.allowed_methods.0: an HTTP method in upper case'), p[0]);
    assert.ok(p[1]!.startsWith('routes.0.cors.allowed_headers.0: a header name'), p[1]);
    assert.ok(p[2]!.startsWith('routes.0.cors.max_age_s: '), p[2]);
    assert.equal(typeof parseOriginPattern('https://*.example.com'), 'object');
  });
});
