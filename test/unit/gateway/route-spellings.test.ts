/**
 * Route matching as an upstream framework routes (src/config/route-match.ts,
 * src/gateway/routing/route-table.ts): every spelling of a protected path that express,
 * Fastify, Spring, Go's ServeMux or nginx serves with the same handler — `.`/`..`/`//`
 * (resolved by the canonicalizer), any character percent-encoded — selects the same route; a
 * trailing-slash or letter-case variant selects it or is refused, never another route; HEAD
 * selects what GET selects.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { exactKey, looseKey, pathPattern, patternSignature } from '../../../src/config/route-match.js';
import { configSchema } from '../../../src/config/schema.js';
import { parseRequestTarget } from '../../../src/gateway/request-target.js';
import { AMBIGUOUS, RouteTable, upstreamPath } from '../../../src/gateway/routing/route-table.js';

function table(...defs: Array<{ name: string; match: Record<string, unknown>; strip_prefix?: string }>): RouteTable {
  return new RouteTable(configSchema.parse({ routes: defs.map((d) => ({ upstream: 'http://127.0.0.1:9', ...d })) }).routes, {});
}

/** The route a raw request target selects, as the gateway does: canonicalize, then match. */
function routeOf(t: RouteTable, rawTarget: string, method = 'GET'): string | undefined {
  const r = t.match('app.test', parseRequestTarget(rawTarget).path, method);
  return typeof r === 'string' ? r : r?.name;
}

const ROUTES = table(
  { name: 'profile', match: { path_glob: '/users/*/profile' } },
  { name: 'admin', match: { path_prefix: '/admin' } },
  { name: 'purge', match: { path_glob: '/v1/things:purge' } },
  { name: 'docs', match: { path_glob: '/docs/**' } },
  { name: 'files', match: { path_glob: '/files/*' } },
  { name: 'reserved', match: { path_prefix: "/a!b/c@d/$&'()*+,=" } },
  { name: 'unicode', match: { path_glob: '/café/*' } },
  { name: 'report', match: { path_prefix: '/report', methods: ['GET'] } },
  { name: 'everything', match: { path_prefix: '/' } },
);

const SEGMENT_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_~!$&'()*+,=:@".split('');
/** A non-empty segment that is not `.` or `..`. */
const segment = fc
  .array(fc.constantFrom(...SEGMENT_CHARS), { minLength: 1, maxLength: 6 })
  .map((cs) => cs.join(''))
  .filter((s) => s !== '.' && s !== '..');
const tail = fc.array(segment, { maxLength: 3 }).map((ss) => ss.map((s) => '/' + s).join(''));

/** A path each protected route selects, by route. */
const protectedPath = fc.oneof(
  segment.map((s) => ['profile', `/users/${s}/profile`] as const),
  tail.map((t) => ['admin', `/admin${t}`] as const),
  fc.constant(['purge', '/v1/things:purge'] as const),
  tail.map((t) => ['docs', `/docs${t}`] as const),
  segment.map((s) => ['files', `/files/${s}`] as const),
  tail.map((t) => ['reserved', `/a!b/c@d/$&'()*+,=${t}`] as const),
  segment.map((s) => ['unicode', `/caf%C3%A9/${s}`] as const),
  tail.map((t) => ['report', `/report${t}`] as const),
);

function percentEncode(ch: string, upper: boolean): string {
  const hex = [...Buffer.from(ch, 'utf8')].map((b) => '%' + b.toString(16).padStart(2, '0'));
  return hex.map((h) => (upper ? h.toUpperCase() : h)).join('');
}

/**
 * Rewrites a path into another spelling of the same resource: characters percent-encoded
 * (hex in either case), `//`, `/./` and `/x/..` between segments, trailing `/`, `/.` or `/x/..`.
 */
const respelled = (path: string) =>
  fc
    .record({
      encode: fc.array(fc.boolean(), { minLength: path.length, maxLength: path.length }),
      upper: fc.boolean(),
      separators: fc.array(fc.constantFrom('/', '//', '/./', '/zz/../'), { minLength: 8, maxLength: 8 }),
      end: fc.constantFrom('', '/', '//', '///', '/.', '/zz/..', '/./'),
    })
    .map(({ encode, upper, separators, end }) => {
      let out = '';
      let slash = 0;
      for (let i = 0; i < path.length; i++) {
        const ch = path[i]!;
        if (ch === '/') out += i === 0 ? '/' : separators[slash++ % separators.length]!;
        else if (ch === '%') out += path.slice(i, i + 3);
        else out += encode[i] ? percentEncode(ch, upper) : ch;
        if (ch === '%') i += 2;
      }
      return out + end;
    });

describe('every spelling a framework serves with the same handler selects the same route', () => {
  test('percent-encoding, dot segments, repeated and trailing slashes (property)', () => {
    fc.assert(
      fc.property(
        protectedPath.chain(([name, path]) => respelled(path).map((spelling) => ({ name, path, spelling }))),
        ({ name, path, spelling }) => {
          assert.equal(routeOf(ROUTES, path), name, `the plain ${path}`);
          const got = routeOf(ROUTES, spelling);
          // May be refused: a trailing slash is another path to an exact router (Go, nginx,
          // Fastify), an escape the canonical path keeps another path to express.
          const canonical = parseRequestTarget(spelling).path;
          const disputed = canonical.endsWith('/') || exactKey(canonical) !== canonical;
          assert.ok(got === name || (disputed && got === AMBIGUOUS), `${spelling} (a spelling of ${path}): ${got}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a letter-case variant selects the same route or is refused, never another route (property)', () => {
    fc.assert(
      fc.property(
        protectedPath.chain(([name, path]) =>
          fc.array(fc.boolean(), { minLength: path.length, maxLength: path.length }).map((flips) => ({
            name,
            variant: [...path].map((c, i) => (flips[i] ? c.toUpperCase() : c)).join(''),
          })),
        ),
        ({ name, variant }) => {
          const got = routeOf(ROUTES, variant);
          assert.ok(got === name || got === AMBIGUOUS, `${variant}: ${got}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('the examples: a trailing slash, an escaped ":" and "é", an upper-case literal', () => {
    for (const path of ['/users/bob/profile/', '/users/bob/profile/.', '/users/bob/profile/x/..']) {
      assert.equal(routeOf(ROUTES, path), AMBIGUOUS, `${path}: express serves it with the route's handler, Go and nginx do not`);
    }
    assert.equal(routeOf(ROUTES, '/v1/things%3apurge'), AMBIGUOUS, 'Go and nginx serve it with the route, express does not');
    assert.equal(routeOf(ROUTES, '/admin/'), 'admin', 'a prefix matches with and without the slash');
    assert.equal(routeOf(ROUTES, '/docs/'), 'docs');
    assert.equal(routeOf(ROUTES, '/v1/things:purge'), 'purge');
    assert.equal(routeOf(ROUTES, '/caf%c3%a9/menu'), 'unicode');
    assert.equal(routeOf(ROUTES, '/files/'), AMBIGUOUS, "Fastify's router matches /files/:id with an empty id; express's does not");
    assert.equal(routeOf(ROUTES, '/files'), 'everything');
    assert.equal(routeOf(ROUTES, '/USERS/bob/profile'), AMBIGUOUS, 'express serves it as /users/:id/profile; Spring does not');
    assert.equal(routeOf(ROUTES, '/users/BOB/profile'), 'profile', 'the case of a wildcard segment decides nothing');
  });

  test('look-alikes are other resources: not captured', () => {
    for (const path of [
      '/users/bob/profiles',
      '/users/bob/profile/x',
      '/users/profile',
      '/administrator',
      '/v1/things:purged',
      '/files/a/b',
    ]) {
      assert.equal(routeOf(ROUTES, path), 'everything', path);
    }
    assert.equal(routeOf(ROUTES, '/v1/things%253Apurge'), 'everything', '%25 is a literal "%": decoded once, as upstreams do');
  });
});

describe('a trailing slash selects the same route or is refused; HEAD never changes the route', () => {
  const word = fc.constantFrom('users', 'bob', 'profile', 'admin', 'files', 'docs', 'report', 'v1', 'things:purge', 'x');
  const anyPath = fc.array(word, { maxLength: 5 }).map((ws) => '/' + ws.join('/'));
  // Overlapping routes on purpose: an exact glob, a one-segment glob and a prefix over the same literal.
  const OVERLAPPING = table(
    { name: 'files-exact', match: { path_glob: '/files' } },
    { name: 'files-one', match: { path_glob: '/files/*' } },
    { name: 'docs-prefix', match: { path_prefix: '/docs' } },
    { name: 'docs-glob', match: { path_glob: '/docs/*' } },
    { name: 'get-only', match: { path_prefix: '/report', methods: ['GET', 'POST'] } },
  );
  const TABLES = { routes: ROUTES, overlapping: OVERLAPPING };
  const tables = fc.constantFrom('routes' as const, 'overlapping' as const);

  test('p/ selects the route p selects or is refused, in either table (property)', () => {
    fc.assert(
      fc.property(anyPath, tables, (p, name) => {
        const t = TABLES[name];
        const plain = routeOf(t, p);
        assert.notEqual(plain, AMBIGUOUS, p);
        for (const end of ['/', '//', '/.']) assert.ok([plain, AMBIGUOUS].includes(routeOf(t, p + end)), `${p}${end}`);
      }),
      { numRuns: 500 },
    );
  });

  test('HEAD selects what GET selects (property)', () => {
    fc.assert(
      fc.property(anyPath, tables, (p, name) => {
        const t = TABLES[name];
        assert.equal(routeOf(t, p, 'HEAD'), routeOf(t, p, 'GET'), p);
      }),
      { numRuns: 500 },
    );
    assert.equal(routeOf(ROUTES, '/report/x', 'HEAD'), 'report');
    assert.equal(routeOf(ROUTES, '/report/x', 'POST'), 'everything');
  });

  test('overlapping routes: a trailing slash where the exact reading selects another route is refused', () => {
    assert.equal(routeOf(OVERLAPPING, '/files'), 'files-exact');
    assert.equal(routeOf(OVERLAPPING, '/files/'), AMBIGUOUS, 'Fastify: /files/* with an empty segment; express: /files');
    assert.equal(routeOf(OVERLAPPING, '/files/a'), 'files-one');
    assert.equal(routeOf(OVERLAPPING, '/files/a/'), AMBIGUOUS);
    assert.equal(routeOf(OVERLAPPING, '/docs'), 'docs-prefix');
    assert.equal(routeOf(OVERLAPPING, '/docs/'), AMBIGUOUS, 'Fastify: /docs/* with an empty segment; express: /docs');
    assert.equal(routeOf(OVERLAPPING, '/docs/a'), 'docs-glob');
  });

  // Go's ServeMux, nginx, Fastify, Spring and Django compare the trailing slash: `/files` and
  // `/files/` are different patterns (`location = /files` beside `location /files/`; Go's
  // subtree pattern `/files/`). express and Rails ignore it. Where the two readings select
  // different routes, one kind of upstream serves the request with the other route's handler.
  test('an exact public path beside a protected subtree: /files/ is the subtree to exact routers', () => {
    const t = table({ name: 'list', match: { path_glob: '/files' } }, { name: 'tree', match: { path_glob: '/files/**' } });
    assert.equal(routeOf(t, '/files'), 'list');
    assert.equal(routeOf(t, '/files/x'), 'tree');
    assert.equal(routeOf(t, '/files/'), AMBIGUOUS, 'nginx and Go serve it with the subtree, express with /files');
  });
  test('a public one-segment glob beside a protected subtree: /users/bob/ is the subtree to exact routers', () => {
    const t = table({ name: 'card', match: { path_glob: '/users/*' } }, { name: 'private', match: { path_glob: '/users/**' } });
    assert.equal(routeOf(t, '/users/bob'), 'card');
    assert.equal(routeOf(t, '/users/bob/x'), 'private');
    assert.equal(routeOf(t, '/users/bob/'), AMBIGUOUS, 'Go serves it with /users/{id}/, express with /users/:id');
  });
  test("/files/ is /files/:id with an empty id to Fastify's router, /files to express", () => {
    const t = table({ name: 'index', match: { path_prefix: '/files' } }, { name: 'one', match: { path_glob: '/files/*' } });
    assert.equal(routeOf(t, '/files'), 'index');
    assert.equal(routeOf(t, '/files/a'), 'one');
    assert.equal(routeOf(t, '/files/'), AMBIGUOUS);
  });
  test('a glob ending in "/" selects that path with the slash; the path without it is refused', () => {
    const t = table({ name: 'dir', match: { path_glob: '/d/*/' } }, { name: 'rest', match: { path_prefix: '/' } });
    assert.equal(routeOf(t, '/d/x/'), 'dir');
    assert.equal(routeOf(t, '/d/x'), AMBIGUOUS, 'express serves it with /d/:x/; Go with another pattern');
    assert.equal(routeOf(t, '/d/x/y'), 'rest');
  });
});

describe('an escape that decides the route is refused', () => {
  // Spring, Go, nginx, Fastify and Django decode every escape before they route; express (and
  // Rails) match the path as it arrives, escapes and all, and decode only the parameters.
  test('an anonymous /v1/things:status beside a protected catch-all: express serves %3A with the catch-all', () => {
    const t = table({ name: 'status', match: { path_glob: '/v1/things:status' } }, { name: 'rest', match: { path_prefix: '/' } });
    assert.equal(routeOf(t, '/v1/things:status'), 'status');
    assert.equal(routeOf(t, '/v1/things%3Astatus'), AMBIGUOUS, "express: /v1/:name with name 'things:status'");
  });
  test('a pattern written with an escape: the raw character is another path to express', () => {
    const t = table({ name: 'x', match: { path_glob: '/v1%3Ax/**' } }, { name: 'rest', match: { path_prefix: '/' } });
    assert.equal(routeOf(t, '/v1%3Ax/y'), 'x');
    assert.equal(routeOf(t, '/v1:x/y'), AMBIGUOUS);
  });
  test('an escape inside a wildcard decides nothing', () => {
    const t = table({ name: 'p', match: { path_glob: '/users/*/profile' } }, { name: 'rest', match: { path_prefix: '/' } });
    assert.equal(routeOf(t, '/users/alice%40example.com/profile'), 'p');
  });
});

describe('globs', () => {
  /** The glob compared byte for byte with the canonical path, trailing slash and all. */
  function literalRegex(glob: string): RegExp {
    let re = '^';
    for (let i = 0; i < glob.length; i++) {
      if (glob.startsWith('/**', i)) {
        re += '(?:/[^/]*)*';
        i += 2;
      } else re += glob[i] === '*' ? '[^/]*' : glob[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(re + '$');
  }
  const token = fc.constantFrom('/a', '/b', '/*', '/**', '*', '**', 'a', 'b*', '/');
  const glob = fc.array(token, { minLength: 1, maxLength: 7 }).map((ts) => (ts[0]!.startsWith('/') ? '' : '/') + ts.join(''));
  const path = fc
    .array(fc.constantFrom('a', 'b', 'ab', 'ba', 'aab'), { maxLength: 6 })
    .chain((ss) => fc.constantFrom('', '/').map((end) => '/' + ss.join('/') + end));
  const stripped = (s: string) => s.replace(/(.)\/+$/, '$1');

  test('the linear matcher agrees with the regular expression, in the exact and the loose reading (property)', () => {
    fc.assert(
      fc.property(glob, path, (g, p) => {
        assert.equal(pathPattern({ path_glob: g }, 'exact').test(exactKey(p)), literalRegex(g).test(p), `exact: ${g} ${p}`);
        const loose = pathPattern({ path_glob: g }, 'loose').test(looseKey(exactKey(p)));
        assert.equal(loose, literalRegex(stripped(g)).test(stripped(p)), `loose: ${g} ${p}`);
      }),
      { numRuns: 5000 },
    );
  });

  test('patterns the duplicate check calls equal match the same paths in that reading (property)', () => {
    const matches = (m: { path_glob?: string; path_prefix?: string }, reading: 'exact' | 'loose', p: string) =>
      pathPattern(m, reading).test(reading === 'exact' ? exactKey(p) : looseKey(exactKey(p)));
    const prefix = fc.array(fc.constantFrom('a', 'b', 'ab'), { minLength: 1, maxLength: 3 }).map((ss) => '/' + ss.join('/'));
    const pair = fc.oneof(
      glob.map((g) => [{ path_glob: g }, { path_glob: g + '/' }] as const),
      prefix.map((p) => [{ path_prefix: p }, { path_glob: p + '/**' }] as const),
    );
    const equal = { exact: 0, loose: 0 };
    fc.assert(
      fc.property(
        pair,
        fc.constantFrom('exact' as const, 'loose' as const),
        fc.array(path, { minLength: 10, maxLength: 10 }),
        ([a, b], r, paths) => {
          if (patternSignature(a, r) !== patternSignature(b, r)) return;
          equal[r]++;
          for (const p of paths) assert.equal(matches(a, r, p), matches(b, r, p), `${r}: ${JSON.stringify(a)} ${JSON.stringify(b)} ${p}`);
        },
      ),
      { numRuns: 3000 },
    );
    assert.ok(equal.exact > 100 && equal.loose > 300, `only ${JSON.stringify(equal)} pairs had equal signatures`);
  });
});

describe('strip_prefix removes the prefix as the route matched it', () => {
  test('a reserved character in the prefix, a trailing slash; its escape is refused', () => {
    const t = table({ name: 'v', match: { path_prefix: '/v1:x' }, strip_prefix: '/v1:x' });
    const forward = (raw: string) => {
      const { path } = parseRequestTarget(raw);
      const r = t.match('h', path, 'GET');
      assert.ok(r !== undefined && typeof r !== 'string', raw);
      return upstreamPath(r, path, '');
    };
    assert.equal(forward('/v1:x/y'), '/y');
    assert.equal(forward('/v1:x/'), '/');
    assert.equal(forward('/v1:x'), '/');
    assert.equal(t.match('h', parseRequestTarget('/v1%3Ax/y').path, 'GET'), AMBIGUOUS, 'an escape express would not decode');
  });
});

describe('format_suffix: a route also selects its path with a ".format" on the last segment', () => {
  // Rails routes are `/users/:id/profile(.:format)` by default: /users/bob/profile.json is the
  // profile handler's. Without the option that spelling is another path, and selects the catch-all.
  const t = table(
    { name: 'profile', match: { path_glob: '/users/*/profile', format_suffix: true } },
    { name: 'admin', match: { path_prefix: '/admin', format_suffix: true } },
    { name: 'feed', match: { path_glob: '/feed' } },
    { name: 'export', match: { path_glob: '/users/*/profile.csv' } },
    { name: 'everything', match: { path_prefix: '/' } },
  );
  test('the path with one extension selects the route; without the option it does not', () => {
    assert.equal(routeOf(t, '/users/bob/profile.json'), 'profile');
    assert.equal(routeOf(t, '/users/bob/profile'), 'profile');
    assert.equal(routeOf(t, '/admin.json'), 'admin');
    assert.equal(routeOf(t, '/admin/users.xml'), 'admin');
    assert.equal(routeOf(t, '/feed.json'), 'everything', 'feed does not have the option');
  });
  test('only one extension on the last segment, after a name: Rails formats have no "."', () => {
    for (const path of ['/users/bob/profile.tar.gz', '/users/bob/profile.', '/users/bob/profile.json/x', '/admin.']) {
      assert.equal(routeOf(t, path), 'everything', path);
    }
  });
  test('a route naming the extension is more specific; at equal length, one without the option wins', () => {
    assert.equal(routeOf(t, '/users/bob/profile.csv'), 'export');
    for (const order of [0, 1]) {
      const defs = [
        { name: 'rails', match: { path_glob: '/x', format_suffix: true } },
        { name: 'plain', match: { path_glob: '/x' } },
      ];
      const both = table(...(order === 0 ? defs : defs.reverse()));
      assert.equal(routeOf(both, '/x'), 'plain');
      assert.equal(routeOf(both, '/x.json'), 'rails');
    }
  });
  test('strip_prefix: the extension on the prefix itself is forwarded as it is', () => {
    const api = table({ name: 'api', match: { path_prefix: '/api', format_suffix: true }, strip_prefix: '/api' });
    const forward = (path: string) => {
      const r = api.match('h', path, 'GET');
      assert.ok(r !== undefined && typeof r !== 'string', path);
      return upstreamPath(r, path, '');
    };
    assert.equal(forward('/api/users.json'), '/users.json');
    assert.equal(forward('/api.json'), '/api.json');
  });
});
