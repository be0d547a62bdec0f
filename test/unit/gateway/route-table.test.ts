/**
 * The route table (src/gateway/routing/route-table.ts): most specific match wins,
 * deterministically; overlapping definitions are start-up errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type RouteConfig } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { AMBIGUOUS, METHOD_DECIDES, RouteTable, upstreamPath } from '../../../src/gateway/routing/route-table.js';

type RouteFields = { match: Record<string, unknown>; upstream?: string; [key: string]: unknown };
type RouteInput = RouteFields & { name: string };

/** Route configs with the schema's defaults filled in, as the gateway gets them. */
function routes(...inputs: RouteInput[]): RouteConfig[] {
  return configSchema.parse({ routes: inputs.map((r) => ({ upstream: 'http://127.0.0.1:9', ...r })) }).routes;
}
function table(...inputs: RouteInput[]): RouteTable {
  return new RouteTable(routes(...inputs), {});
}
/** The matched route's name, or AMBIGUOUS. */
function matchName(t: RouteTable, host: string | undefined, path: string, method = 'GET'): string | undefined {
  const r = t.match(host, path, method);
  return typeof r === 'string' ? r : r?.name;
}
/** Why the configuration validation (config/route-rules.ts) rejects these routes. */
function constructionError(...inputs: RouteInput[]): string {
  try {
    parseConfig({ routes: inputs.map((r) => ({ upstream: 'http://127.0.0.1:9', ...r })) });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.join('\n');
  }
  assert.fail('expected the route table to be rejected');
}

describe('host specificity', () => {
  const defs: RouteInput[] = [
    { name: 'any', match: { path_prefix: '/' } },
    { name: 'suffix', match: { host: '*.example.com', path_prefix: '/' } },
    { name: 'longer-suffix', match: { host: '*.api.example.com', path_prefix: '/' } },
    { name: 'exact', match: { host: 'app.example.com', path_prefix: '/' } },
  ];
  for (const order of [defs, [...defs].reverse()]) {
    const t = table(...order);
    const label = order === defs ? 'config order' : 'reversed order';
    test(`exact > longer *.suffix > *.suffix > any (${label})`, () => {
      assert.equal(matchName(t, 'app.example.com', '/x'), 'exact');
      assert.equal(matchName(t, 'v1.api.example.com', '/x'), 'longer-suffix');
      assert.equal(matchName(t, 'www.example.com', '/x'), 'suffix');
      assert.equal(matchName(t, 'example.org', '/x'), 'any');
      assert.equal(matchName(t, undefined, '/x'), 'any');
    });
  }
  test('host comparison ignores case, port and a trailing dot', () => {
    const t = table({ name: 'exact', match: { host: 'App.Example.com', path_prefix: '/' } });
    assert.equal(matchName(t, 'APP.EXAMPLE.COM:8443', '/'), 'exact');
    assert.equal(matchName(t, 'app.example.com.', '/'), 'exact');
    assert.equal(matchName(t, 'app.example.com', '/'), 'exact');
    assert.equal(matchName(t, 'app.example.co', '/'), undefined);
    assert.equal(matchName(t, 'xapp.example.com', '/'), undefined);
    assert.equal(matchName(t, undefined, '/'), undefined);
  });
  test('*.suffix needs a label before the suffix', () => {
    const t = table({ name: 's', match: { host: '*.example.com', path_prefix: '/' } });
    assert.equal(matchName(t, 'a.example.com', '/'), 's');
    assert.equal(matchName(t, 'a.b.example.com', '/'), 's');
    assert.equal(matchName(t, 'example.com', '/'), undefined);
    assert.equal(matchName(t, 'badexample.com', '/'), undefined);
    assert.equal(matchName(t, 'example.com.evil.org', '/'), undefined);
  });
  test('an IPv6 literal host keeps its brackets and drops its port', () => {
    const t = table({ name: 'v6', match: { host: 'gw.example', path_prefix: '/' } }, { name: 'any', match: { path_prefix: '/' } });
    assert.equal(matchName(t, '[::1]:4455', '/'), 'any');
  });
});

describe('path matching', () => {
  test('prefixes are segment-aware: /api matches /api and /api/x, not /apix', () => {
    const t = table({ name: 'api', match: { path_prefix: '/api' } });
    assert.equal(matchName(t, 'h', '/api'), 'api');
    assert.equal(matchName(t, 'h', '/api/'), 'api');
    assert.equal(matchName(t, 'h', '/api/v1/x'), 'api');
    assert.equal(matchName(t, 'h', '/apix'), undefined);
    assert.equal(matchName(t, 'h', '/ap'), undefined);
    assert.equal(matchName(t, 'h', '/'), undefined);
    assert.equal(matchName(t, 'h', '/API'), AMBIGUOUS, 'as written nothing matches; ignoring case, /api does');
  });
  test('the longer prefix wins regardless of order', () => {
    for (const order of [0, 1]) {
      const defs: RouteInput[] = [
        { name: 'root', match: { path_prefix: '/' } },
        { name: 'api', match: { path_prefix: '/api' } },
        { name: 'admin', match: { path_prefix: '/api/admin' } },
      ];
      const t = table(...(order ? defs.reverse() : defs));
      assert.equal(matchName(t, 'h', '/api/admin/users'), 'admin');
      assert.equal(matchName(t, 'h', '/api/administrator'), 'api');
      assert.equal(matchName(t, 'h', '/api/x'), 'api');
      assert.equal(matchName(t, 'h', '/other'), 'root');
    }
  });
  test('"*" matches within one segment, "**" any number of segments', () => {
    const t = table(
      { name: 'one', match: { path_glob: '/files/*' } },
      { name: 'png', match: { path_glob: '/img/*.png' } },
      { name: 'deep', match: { path_glob: '/docs/**' } },
      { name: 'mid', match: { path_glob: '/u/*/settings' } },
    );
    assert.equal(matchName(t, 'h', '/files/a'), 'one');
    assert.equal(matchName(t, 'h', '/files/'), AMBIGUOUS, "Fastify's /files/:id serves it (an empty id); express's does not");
    assert.equal(matchName(t, 'h', '/files/a/'), AMBIGUOUS, 'express serves it with /files/:id; an exact router does not');
    assert.equal(matchName(t, 'h', '/docs/a/'), 'deep', 'a trailing slash that decides nothing');
    assert.equal(matchName(t, 'h', '/files/a/b'), undefined);
    assert.equal(matchName(t, 'h', '/files'), undefined);
    assert.equal(matchName(t, 'h', '/img/cat.png'), 'png');
    assert.equal(matchName(t, 'h', '/img/cat.png.exe'), undefined, 'globs are anchored at the end');
    assert.equal(matchName(t, 'h', '/img/a/cat.png'), undefined);
    assert.equal(matchName(t, 'h', '/docs'), 'deep');
    assert.equal(matchName(t, 'h', '/docs/a/b/c'), 'deep');
    assert.equal(matchName(t, 'h', '/docsx'), undefined);
    assert.equal(matchName(t, 'h', '/u/alice/settings'), 'mid');
    assert.equal(matchName(t, 'h', '/u/alice/bob/settings'), undefined);
    assert.equal(matchName(t, 'h', '/x/files/a'), undefined, 'globs are anchored at the start');
  });
  test('glob literals are not regular expressions', () => {
    const t = table({ name: 'dot', match: { path_glob: '/a.b/(x)+' } });
    assert.equal(matchName(t, 'h', '/a.b/(x)+'), 'dot');
    assert.equal(matchName(t, 'h', '/aXb/(x)+'), undefined);
    assert.equal(matchName(t, 'h', '/a.b/xx'), undefined);
  });
  test('the more literal glob beats a less literal one; a prefix beats a glob of the same literal length', () => {
    const t = table(
      { name: 'glob', match: { path_glob: '/api/**' } },
      { name: 'narrow-glob', match: { path_glob: '/api/*/admin' } },
      { name: 'prefix', match: { path_prefix: '/api/v1' } },
      { name: 'glob-v1', match: { path_glob: '/api/v1/*' } },
    );
    assert.equal(matchName(t, 'h', '/api/v2/admin'), 'narrow-glob');
    assert.equal(matchName(t, 'h', '/api/v2/other'), 'glob');
    assert.equal(matchName(t, 'h', '/api/v1/x'), 'glob-v1');
    assert.equal(matchName(t, 'h', '/api/v1'), 'prefix');
    assert.equal(matchName(t, 'h', '/api/v1/x/y'), 'prefix');
  });
  test('at the same literal length a prefix beats a glob, whatever the order', () => {
    for (const reverse of [false, true]) {
      const defs: RouteInput[] = [
        { name: 'glob', match: { path_glob: '/api/v1*' } },
        { name: 'prefix', match: { path_prefix: '/api/v1' } },
      ];
      const t = table(...(reverse ? defs.reverse() : defs));
      assert.equal(matchName(t, 'h', '/api/v1'), 'prefix');
      assert.equal(matchName(t, 'h', '/api/v1x'), 'glob');
    }
  });
});

describe('methods', () => {
  test('a route with a method list beats the same route without one; other methods fall through', () => {
    for (const reverse of [false, true]) {
      const defs: RouteInput[] = [
        { name: 'all', match: { path_prefix: '/api' } },
        { name: 'writes', match: { path_prefix: '/api', methods: ['POST', 'PUT'] } },
      ];
      const t = table(...(reverse ? defs.reverse() : defs));
      assert.equal(matchName(t, 'h', '/api/x', 'POST'), 'writes');
      assert.equal(matchName(t, 'h', '/api/x', 'PUT'), 'writes');
      assert.equal(matchName(t, 'h', '/api/x', 'GET'), 'all');
    }
  });
  test('a method-restricted route alone does not match other methods', () => {
    const t = table({ name: 'get', match: { path_prefix: '/', methods: ['GET'] } });
    assert.equal(matchName(t, 'h', '/', 'GET'), 'get');
    assert.equal(matchName(t, 'h', '/', 'DELETE'), undefined);
    assert.equal(matchName(t, 'h', '/', 'get'), undefined, 'methods are case-sensitive');
  });
  test('a list naming GET covers HEAD (upstreams serve HEAD with their GET handler)', () => {
    const t = table(
      { name: 'reads', match: { path_prefix: '/r', methods: ['GET'] } },
      { name: 'rest', match: { path_prefix: '/r' } },
      { name: 'head-only', match: { path_prefix: '/h', methods: ['HEAD'] } },
    );
    assert.equal(matchName(t, 'h', '/r/1', 'HEAD'), 'reads');
    assert.equal(matchName(t, 'h', '/r/1', 'POST'), 'rest');
    // HEAD does not cover GET: a HEAD-only route serves no content.
    assert.equal(matchName(t, 'h', '/h', 'GET'), undefined);
  });
  test('method lists that share a method on the same host and path are rejected: the first would always win it', () => {
    const same = constructionError(
      { name: 'a', match: { path_prefix: '/r', methods: ['GET'] } },
      { name: 'b', match: { path_prefix: '/r', methods: ['HEAD', 'GET'] } },
    );
    assert.match(same, /routes\.1 \("b"\) matches exactly the same requests as routes\.0 \("a"\)/);
    const head = constructionError(
      { name: 'a', match: { path_prefix: '/r', methods: ['GET', 'POST'] } },
      { name: 'b', match: { path_prefix: '/r', methods: ['HEAD', 'GET', 'PUT'] } },
    );
    assert.match(head, /^routes\.1\.match\.methods: GET also matched by routes\.0 \("a"\)/);
    // On another path, or with no shared method, both can be chosen.
    const valid = (...inputs: RouteInput[]) => parseConfig({ routes: inputs.map((r) => ({ upstream: 'http://127.0.0.1:9', ...r })) });
    valid({ name: 'a', match: { path_prefix: '/r', methods: ['GET'] } }, { name: 'b', match: { path_prefix: '/r', methods: ['POST'] } });
    valid({ name: 'a', match: { path_prefix: '/r', methods: ['GET'] } }, { name: 'b', match: { path_prefix: '/s', methods: ['GET'] } });
  });
  test('host specificity outranks a method list', () => {
    const t = table(
      { name: 'methods', match: { path_prefix: '/', methods: ['GET'] } },
      { name: 'host', match: { host: 'h.example', path_prefix: '/' } },
    );
    assert.equal(matchName(t, 'h.example', '/', 'GET'), 'host');
  });
  test('matchAnyMethod: the route every method gets, or METHOD_DECIDES when the methods disagree', () => {
    const t = table(
      { name: 'writes', match: { host: 'h.example', path_prefix: '/orders', methods: ['POST', 'PUT'] } },
      { name: 'orders', match: { host: 'h.example', path_prefix: '/orders' } },
      { name: 'feed', match: { host: 'h.example', path_prefix: '/feed', methods: ['GET'] } },
      { name: 'public', match: { host: 'h.example', path_prefix: '/docs/public' } },
      { name: 'doc-writes', match: { host: 'h.example', path_prefix: '/docs', methods: ['POST'] } },
      { name: 'elsewhere', match: { host: 'other.example', path_prefix: '/plain', methods: ['DELETE'] } },
      { name: 'plain', match: { host: 'h.example', path_prefix: '/plain' } },
    );
    // FOO is in no method list: with it, the probes cover every way a method list can answer.
    const probes = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'FOO'];
    const cases: Array<[host: string, path: string, expected: string | typeof METHOD_DECIDES | undefined]> = [
      ['h.example', '/orders/1', METHOD_DECIDES],
      ['h.example', '/feed', METHOD_DECIDES],
      ['h.example', '/docs/x', METHOD_DECIDES],
      ['h.example', '/docs/public/x', 'public'],
      ['h.example', '/plain/x', 'plain'],
      ['other.example', '/plain/x', METHOD_DECIDES],
      ['h.example', '/nothing', undefined],
    ];
    for (const [host, path, expected] of cases) {
      const any = t.matchAnyMethod(host, path);
      assert.equal(any === METHOD_DECIDES || any === AMBIGUOUS ? any : any?.name, expected, `${host}${path}`);
      const answers = new Set(probes.map((m) => matchName(t, host, path, m)));
      assert.equal(answers.size > 1, expected === METHOD_DECIDES, `${host}${path}: ${[...answers].join(', ')}`);
      if (expected !== METHOD_DECIDES) assert.deepEqual([...answers], [expected]);
    }
  });
  test('matchAnyMethod: a path whose letter case decides the route is AMBIGUOUS whatever the method', () => {
    const t = table({ name: 'api', match: { path_prefix: '/api', methods: ['GET'] } }, { name: 'rest', match: { path_prefix: '/' } });
    assert.equal(t.matchAnyMethod('h.example', '/API/x'), AMBIGUOUS);
    assert.equal(t.matchAnyMethod('h.example', '/api/x'), METHOD_DECIDES);
    const rest = t.match('h.example', '/other', 'GET');
    assert.equal(typeof rest === 'object' && rest.name, 'rest');
    assert.equal(t.matchAnyMethod('h.example', '/other'), rest);
  });
});

describe('determinism', () => {
  test('equally specific overlapping routes: the first in configuration order wins', () => {
    const a = { name: 'a-first', match: { path_glob: '/a/*' } };
    const b = { name: 'b-first', match: { path_glob: '/*/b' } };
    assert.equal(matchName(table(a, b), 'h', '/a/b'), 'a-first');
    assert.equal(matchName(table(b, a), 'h', '/a/b'), 'b-first');
  });
  test('"all" lists routes most specific first', () => {
    const t = table(
      { name: 'root', match: { path_prefix: '/' } },
      { name: 'api', match: { path_prefix: '/api' } },
      { name: 'host', match: { host: 'x.example', path_prefix: '/' } },
    );
    assert.deepEqual(
      t.all.map((r) => r.name),
      ['host', 'api', 'root'],
    );
  });
  test('no match gives undefined', () => {
    assert.equal(matchName(table({ name: 'api', match: { path_prefix: '/api' } }), 'h', '/x'), undefined);
    assert.equal(matchName(new RouteTable([], {}), 'h', '/'), undefined);
  });
});

describe('construction errors', () => {
  test('duplicate routes are rejected with a message naming both', () => {
    const msg = constructionError({ name: 'first', match: { path_prefix: '/api' } }, { name: 'second', match: { path_prefix: '/api' } });
    assert.match(msg, /routes\.1 \("second"\)/);
    assert.match(msg, /routes\.0 \("first"\)/);
  });
  test('method order and host case do not hide a duplicate', () => {
    const msg = constructionError(
      { name: 'a', match: { host: 'API.example.com', path_prefix: '/x', methods: ['GET', 'POST'] } },
      { name: 'other', match: { path_prefix: '/y' } },
      { name: 'b', match: { host: 'api.example.com', path_prefix: '/x', methods: ['POST', 'GET'] } },
    );
    assert.match(msg, /routes\.2 \("b"\).*routes\.0 \("a"\)/);
  });
  test('duplicate globs are rejected', () => {
    assert.match(
      constructionError({ name: 'a', match: { path_glob: '/x/*' } }, { name: 'b', match: { path_glob: '/x/*' } }),
      /routes\.1 \("b"\).*routes\.0 \("a"\)/,
    );
  });
  test('a glob that matches exactly what a prefix matches is a duplicate', () => {
    assert.match(
      constructionError({ name: 'p', match: { path_prefix: '/api' } }, { name: 'g', match: { path_glob: '/api/**' } }),
      /routes\.1 \("g"\).*routes\.0 \("p"\)/,
    );
    assert.match(
      constructionError({ name: 'root', match: { path_prefix: '/' } }, { name: 'all', match: { path_glob: '/**' } }),
      /routes\.1 \("all"\).*routes\.0 \("root"\)/,
    );
  });
  test('routes equal in the match form are duplicates: a trailing slash, an escape, HEAD beside GET', () => {
    const dup = /routes\.1 \("b"\) matches exactly the same requests as routes\.0 \("a"\)/;
    const slash = /routes\.1 \("b"\) matches the same requests ignoring a trailing slash as routes\.0 \("a"\)/;
    assert.match(constructionError({ name: 'a', match: { path_glob: '/x/y' } }, { name: 'b', match: { path_glob: '/x/y/' } }), slash);
    assert.match(constructionError({ name: 'a', match: { path_glob: '/x/*' } }, { name: 'b', match: { path_glob: '/x/*/' } }), slash);
    assert.match(constructionError({ name: 'a', match: { path_prefix: '/v1:x' } }, { name: 'b', match: { path_glob: '/v1%3Ax/**' } }), dup);
    assert.match(
      constructionError(
        { name: 'a', match: { path_prefix: '/x', methods: ['GET'] } },
        { name: 'b', match: { path_prefix: '/x', methods: ['HEAD', 'GET'] } },
      ),
      dup,
    );
  });
  test('routes equal ignoring letter case are rejected: the table refuses every request they disagree on', () => {
    assert.match(
      constructionError({ name: 'a', match: { path_prefix: '/api' } }, { name: 'b', match: { path_prefix: '/API' } }),
      /^routes\.1 \("b"\) matches the same requests ignoring letter case as routes\.0 \("a"\)/,
    );
  });
  test('a method list with HEAD but not GET is rejected: HEAD is compared as GET', () => {
    assert.match(
      constructionError({ name: 'a', match: { path_prefix: '/x', methods: ['HEAD', 'POST'] } }),
      /^routes\.0\.match\.methods: lists HEAD without GET/,
    );
  });
  test('different methods, hosts or paths are not duplicates', () => {
    assert.doesNotThrow(() =>
      table(
        { name: 'a', match: { path_prefix: '/x' } },
        { name: 'b', match: { path_prefix: '/x', methods: ['GET'] } },
        { name: 'c', match: { host: 'h.example', path_prefix: '/x' } },
        { name: 'd', match: { path_glob: '/x' } },
        { name: 'e', match: { path_glob: '/x/*' } },
      ),
    );
  });
  test('duplicate names are rejected', () => {
    const msg = constructionError({ name: 'same', match: { path_prefix: '/a' } }, { name: 'same', match: { path_prefix: '/b' } });
    assert.match(msg, /^routes\.1\.name: "same"/);
  });
  test('a strip_prefix that is not a segment prefix of the match is rejected', () => {
    assert.match(constructionError({ name: 'a', match: { path_prefix: '/api' }, strip_prefix: '/ap' }), /^routes\.0\.strip_prefix: "\/ap"/);
    assert.match(constructionError({ name: 'a', match: { path_prefix: '/api' }, strip_prefix: '/other' }), /^routes\.0\.strip_prefix/);
    assert.match(constructionError({ name: 'a', match: { path_prefix: '/api' }, strip_prefix: '/api/v1' }), /^routes\.0\.strip_prefix/);
    assert.match(constructionError({ name: 'a', match: { path_glob: '/api*/x' }, strip_prefix: '/api' }), /^routes\.0\.strip_prefix/);
  });
  test('a strip_prefix equal to or a segment prefix of the match is accepted', () => {
    assert.doesNotThrow(() => table({ name: 'a', match: { path_prefix: '/api' }, strip_prefix: '/api' }));
    assert.doesNotThrow(() => table({ name: 'b', match: { path_prefix: '/api/v1' }, strip_prefix: '/api' }));
    assert.doesNotThrow(() => table({ name: 'c', match: { path_glob: '/api/*/x' }, strip_prefix: '/api' }));
  });
  test('an upstream with a query, fragment or credentials is rejected', () => {
    assert.match(
      constructionError({ name: 'q', match: { path_prefix: '/' }, upstream: 'http://u:1/?a=1' }),
      /^routes\.0\.upstream: .*query/,
    );
    assert.match(
      constructionError({ name: 'f', match: { path_prefix: '/' }, upstream: 'http://u:1/#f' }),
      /^routes\.0\.upstream: .*fragment/,
    );
    assert.match(
      constructionError({ name: 'c', match: { path_prefix: '/' }, upstream: 'http://user:pw@u:1/' }),
      /^routes\.0\.upstream: .*credentials/,
    );
  });
});

describe('upstreamPath and route fields', () => {
  const route = (r: RouteFields) => table({ name: 'r', ...r }).all[0]!;

  test('strip_prefix with an upstream base path', () => {
    const r = route({ match: { path_prefix: '/api' }, strip_prefix: '/api', upstream: 'http://svc:8080/base/' });
    assert.equal(r.upstreamBasePath, '/base');
    assert.equal(upstreamPath(r, '/api/users/1', '?x=1'), '/base/users/1?x=1');
    assert.equal(upstreamPath(r, '/api', ''), '/base/');
    assert.equal(upstreamPath(r, '/api/', ''), '/base/');
  });
  test('strip_prefix without a base path', () => {
    const r = route({ match: { path_prefix: '/api' }, strip_prefix: '/api', upstream: 'http://svc:8080' });
    assert.equal(r.upstreamBasePath, '');
    assert.equal(upstreamPath(r, '/api/users', ''), '/users');
    assert.equal(upstreamPath(r, '/api', '?q'), '/?q');
  });
  test('strip_prefix is segment-aware at forwarding time too', () => {
    const r = route({ match: { path_prefix: '/api' }, strip_prefix: '/api', upstream: 'http://svc/base' });
    assert.equal(upstreamPath(r, '/apix', ''), '/base/apix');
    assert.equal(upstreamPath(r, '/api/x', ''), '/base/x');
  });
  test('no strip_prefix: the canonical path under the base path', () => {
    const r = route({ match: { path_prefix: '/api' }, upstream: 'http://svc:8080/base' });
    assert.equal(upstreamPath(r, '/api/x', '?a=%2F'), '/base/api/x?a=%2F');
  });
  test('the upstream is parsed and the route keeps its settings', () => {
    const r = route({
      match: { path_prefix: '/' },
      upstream: 'http://svc:8080/b',
      auth: 'optional',
      websocket: false,
      timeout_ms: 1234,
      on_unauthenticated: 'json',
    });
    assert.equal(r.upstream.origin, 'http://svc:8080');
    assert.equal(r.auth, 'optional');
    assert.equal(r.websocket, false);
    assert.equal(r.timeoutMs, 1234);
    assert.equal(r.onUnauthenticated, 'json');
  });
  test('a per-route header mapping replaces the global one; names are lower-cased', () => {
    const global = { 'X-User-Email': 'identity.traits.email' };
    const [withOwn, withGlobal] = new RouteTable(
      routes(
        { name: 'own', match: { path_prefix: '/own' }, identity_headers: { 'X-Tenant': 'identity.traits.tenant' } },
        { name: 'global', match: { path_prefix: '/' } },
      ),
      global,
    ).all;
    assert.deepEqual(withOwn!.identityHeaders, [['x-tenant', 'identity.traits.tenant']]);
    assert.deepEqual(withGlobal!.identityHeaders, [['x-user-email', 'identity.traits.email']]);
  });
});

describe('upstream protocol', () => {
  test('compiled into the route; WebSocket upgrades only on http1 routes (they are HTTP/1.1)', () => {
    const t = table(
      { name: 'web', match: { path_prefix: '/' } },
      { name: 'grpc', match: { path_prefix: '/pkg.Service' }, upstream_protocol: 'h2c' },
    );
    const web = t.match(undefined, '/x', 'GET');
    const grpc = t.match(undefined, '/pkg.Service/Call', 'POST');
    assert.ok(typeof web === 'object' && typeof grpc === 'object');
    assert.deepEqual([web.upstreamProtocol, web.websocket], ['http1', true]);
    assert.deepEqual([grpc.upstreamProtocol, grpc.websocket], ['h2c', false]);
  });
});
