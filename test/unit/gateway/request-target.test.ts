/**
 * Path canonicalization (src/gateway/request-target.ts). The canonical path is both matched
 * and forwarded, so these tests pin down the rules that keep the gateway and the upstream
 * agreeing on the resource (Oathkeeper GHSA-p224-6x5r-fjpm, Envoy CVE-2019-9901 /
 * CVE-2021-29492, Istio CVE-2021-31920).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalizePath, parseRequestTarget, TargetRejected } from '../../../src/gateway/request-target.js';

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PCHAR_OR_SLASH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;

function pathOf(url: string): string {
  return parseRequestTarget(url).path;
}

function rejects(url: string): void {
  assert.throws(() => parseRequestTarget(url), TargetRejected, `expected ${JSON.stringify(url)} to be rejected`);
}

/** Percent-decodes every `%XX` once, byte-wise, into a latin1 string (enough to see `/`, `.` and `\`). */
function decodeOnce(p: string): string {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Every invariant a canonical path must satisfy; throws an AssertionError naming the input. */
function assertCanonical(input: string, out: string): void {
  const ctx = `input ${JSON.stringify(input)} gave ${JSON.stringify(out)}`;
  assert.ok(out.startsWith('/'), `does not start with "/": ${ctx}`);
  assert.ok(!out.includes('//'), `contains "//": ${ctx}`);
  const segments = out.split('/').slice(1);
  segments.forEach((s, i) => {
    assert.notEqual(s, '.', `"." segment: ${ctx}`);
    assert.notEqual(s, '..', `".." segment: ${ctx}`);
    if (i !== segments.length - 1) assert.notEqual(s, '', `empty segment: ${ctx}`);
  });
  // Only pchars and well-formed upper-case escapes.
  for (let i = 0; i < out.length; i++) {
    const c = out[i]!;
    if (c === '%') {
      const hex = out.slice(i + 1, i + 3);
      assert.match(hex, /^[0-9A-F]{2}$/, `escape not upper-case hex: ${ctx}`);
      const byte = parseInt(hex, 16);
      assert.ok(!UNRESERVED.test(String.fromCharCode(byte)), `unreserved character left encoded (%${hex}): ${ctx}`);
      assert.ok(byte !== 0x2f && byte !== 0x5c && byte !== 0x00, `%${hex} survived: ${ctx}`);
      i += 2;
    } else {
      assert.match(c, PCHAR_OR_SLASH, `raw character ${JSON.stringify(c)} not allowed: ${ctx}`);
    }
  }
  assert.doesNotMatch(out, /%2[Ff]|%5[Cc]|%2[Ee]|%00/, `encoded slash/backslash/dot/NUL: ${ctx}`);
  // Idempotent, through both entry points.
  assert.equal(canonicalizePath(out), out, `not idempotent: ${ctx}`);
  assert.equal(pathOf(out), out, `parseRequestTarget not idempotent: ${ctx}`);
  // Decoding once more cannot change the segment structure.
  const decodedSegments = decodeOnce(out).split('/');
  assert.equal(decodedSegments.length, out.split('/').length, `decoding adds a "/": ${ctx}`);
  for (const s of decodedSegments.slice(1)) {
    assert.ok(s !== '.' && s !== '..', `decoding once more yields a dot segment: ${ctx}`);
    assert.ok(!s.includes('\\'), `decoding once more yields a backslash: ${ctx}`);
  }
}

describe('canonical path: examples', () => {
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['/admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/public/%2e./admin', '/admin'],
    ['/%2E%2e/x', '/x'],
    ['/../../../etc/passwd', '/etc/passwd'],
    ['/..', '/'],
    ['/.', '/'],
    ['//admin', '/admin'],
    ['///admin//x', '/admin/x'],
    ['/a/./b/', '/a/b/'],
    ['/a/%2e/b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/', '/a/b/'],
    ['/a//', '/a/'],
    ['/a/b/../../..', '/'],
    ['/a/./../b', '/b'],
    ['/caf%C3%A9', '/caf%C3%A9'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%7e', '/~'],
    ['/%7E%41%7a%30%2D%5F', '/~Az0-_'],
    ['/%3f%23%25%20', '/%3F%23%25%20'],
    ['/%2525', '/%2525'],
    ['/café', '/caf%C3%A9'],
    ['/ü/😀', '/%C3%BC/%F0%9F%98%80'],
    ['/a b', '/a%20b'],
    ['/a"<>^`{|}', '/a%22%3C%3E%5E%60%7B%7C%7D'],
    ["/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="],
    ['/...', '/...'],
    ['/.a/..b/a..', '/.a/..b/a..'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      const out = pathOf(input);
      assert.equal(out, expected);
      assertCanonical(input, out);
    });
  }
});

describe('canonical path: rejected targets', () => {
  const rejected: Array<[string, string]> = [
    ['/a%2Fb', 'encoded slash, upper case'],
    ['/a%2fb', 'encoded slash, lower case'],
    ['/public/..%2Fadmin', 'encoded slash next to dots'],
    ['/a%5Cb', 'encoded backslash'],
    ['/a%5cb', 'encoded backslash, lower case'],
    ['/a\\b', 'raw backslash'],
    ['/public\\..\\admin', 'raw backslash traversal'],
    ['/a%00b', 'encoded NUL'],
    ['/a\u0000b', 'raw NUL'],
    ['/a#frag', 'fragment in the path'],
    ['/a?x=1#frag', 'fragment after the query'],
    ['/a%zz', 'malformed escape'],
    ['/a%4', 'truncated escape at the end'],
    ['/a%', 'lone percent'],
    ['/a%g1', 'non-hex escape'],
    ['/a%%41', 'double percent'],
    ['', 'empty target'],
    ['a/b', 'relative target'],
    ['*', 'asterisk-form'],
    ['http://evil.example/admin', 'absolute-form'],
  ];
  for (const [input, why] of rejected) {
    test(`rejects ${JSON.stringify(input)} (${why})`, () => rejects(input));
  }
  test('rejects an undefined target', () => {
    assert.throws(() => parseRequestTarget(undefined), TargetRejected);
  });
  test('TargetRejected is an Error with a message', () => {
    try {
      parseRequestTarget('/a%2fb');
      assert.fail('expected a rejection');
    } catch (err) {
      assert.ok(err instanceof TargetRejected);
      assert.ok(err instanceof Error);
      assert.match(err.message, /slash/i);
    }
  });
});

describe('canonical path: query string', () => {
  test('the query is returned untouched and does not affect the path', () => {
    const t = parseRequestTarget('/public/../admin?next=/../x&y=%2F%5C%00%zz');
    assert.equal(t.path, '/admin');
    assert.equal(t.search, '?next=/../x&y=%2F%5C%00%zz');
  });
  test('no query gives an empty search', () => {
    assert.equal(parseRequestTarget('/a').search, '');
  });
  test('a lone "?" is kept as the search', () => {
    assert.deepEqual(parseRequestTarget('/a?'), { path: '/a', search: '?' });
  });
  test('"?" inside an escape in the path is not a query separator', () => {
    assert.deepEqual(parseRequestTarget('/a%3Fb'), { path: '/a%3Fb', search: '' });
  });
  test('a query containing an encoded slash does not make the path rejected', () => {
    assert.equal(parseRequestTarget('/ok?x=%2f').path, '/ok');
  });
});

// --- property tests -------------------------------------------------------------------

/** Fragments that combine into every interesting shape: escapes, dots, slashes, unicode. */
const PIECES = [
  '/',
  '/',
  '/',
  '.',
  '..',
  '%',
  '%2e',
  '%2E',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%25',
  '%7e',
  '%7E',
  '%41',
  '%c3%a9',
  '%C3',
  '%e2%82',
  '%00',
  '%20',
  '%3F',
  '2e',
  '2E',
  '2f',
  '5c',
  'a',
  'b',
  'Z',
  '0',
  '9',
  'f',
  'F',
  'e',
  'E',
  '~',
  '-',
  '_',
  ';',
  ':',
  '@',
  '+',
  ' ',
  'é',
  '😀',
  '\u202e',
  '\\',
  '?',
  '#',
  '"',
  '\t',
  '\u0000',
  '\uD800',
];
const arbitraryRawPath = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((parts) => '/' + parts.join(''));
/** Paths that are usually accepted (no rejected pieces), so the invariants get exercised often. */
const ACCEPTABLE_PIECES = PIECES.filter(
  (p) => !['%', '%2f', '%2F', '%5c', '%5C', '%00', '\\', '?', '#', '\u0000', '%C3', '%e2%82'].includes(p),
);
/** A raw `;` (path parameters) anywhere in the path: Tomcat/Jetty/Spring strip them before routing. */
function hasPathParameters(path: string): boolean {
  return path.includes(';');
}

const acceptablePath = fc
  .array(fc.oneof(fc.constantFrom(...ACCEPTABLE_PIECES), fc.constantFrom('/..', '/.', '/%2e%2e', '/.%2E', '//')), { maxLength: 40 })
  .map((parts) => '/' + parts.join(''))
  .filter((p) => !hasPathParameters(p));

describe('canonical path: path parameters', () => {
  for (const raw of ['/public/..;/admin', '/public/.;x/admin', '/admin;x/users', '/admin;jsessionid=1', '/admin;/users', '/a/...;x/b']) {
    test(`${raw} is rejected (Tomcat/Jetty/Spring route it as another path)`, () => {
      assert.throws(() => pathOf(raw), TargetRejected);
    });
  }
  test('an encoded %3B is data, not a parameter, and stays encoded', () => {
    assert.equal(pathOf('/a/b%3bc'), '/a/b%3Bc');
    assert.equal(pathOf('/a/..%3B/b'), '/a/..%3B/b');
  });
});

describe('canonical path: properties', () => {
  test('every accepted path is canonical, idempotent and stable under one more decode', () => {
    fc.assert(
      fc.property(arbitraryRawPath, (raw) => {
        let out: string;
        try {
          out = pathOf(raw);
        } catch (err) {
          if (err instanceof TargetRejected) return;
          throw err;
        }
        assertCanonical(raw, out);
      }),
      { numRuns: 5000 },
    );
  });

  test('acceptable-alphabet paths are accepted and canonical', () => {
    fc.assert(
      fc.property(acceptablePath, (raw) => {
        const out = pathOf(raw);
        assertCanonical(raw, out);
      }),
      { numRuns: 5000 },
    );
  });

  test('rejection happens exactly when an escaped or raw slash/backslash/NUL or a malformed escape is present', () => {
    fc.assert(
      fc.property(arbitraryRawPath, (raw) => {
        let rejected = false;
        try {
          pathOf(raw);
        } catch (err) {
          if (!(err instanceof TargetRejected)) throw err;
          rejected = true;
        }
        // A "#" anywhere is rejected (fragment); escapes in the query are not inspected.
        const path = raw.split('?')[0]!;
        const expected =
          /%(2f|5c|00)/i.test(path) ||
          /[\\\u0000#]/.test(path) ||
          /%(?![0-9A-Fa-f]{2})/.test(path) ||
          raw.includes('#') ||
          hasPathParameters(path);
        assert.equal(rejected, expected, `input ${JSON.stringify(raw)}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('the query string never changes the path and is returned verbatim', () => {
    const query = fc.string({ maxLength: 30 }).filter((q) => !q.includes('#'));
    fc.assert(
      fc.property(acceptablePath, query, (raw, q) => {
        const t = parseRequestTarget(`${raw}?${q}`);
        assert.equal(t.path, pathOf(raw));
        assert.equal(t.search, `?${q}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('decoding the canonical path gives the same text as decoding the raw path once (unicode-safe inputs)', () => {
    // For inputs without dot segments or repeated slashes, canonicalization only re-encodes:
    // one decode of either side must give the same bytes.
    const segment = fc
      .array(fc.constantFrom('a', 'Z', '0', '~', '-', '%41', '%7e', '%c3%a9', '%25', '%20', 'é', '😀', ' '), { minLength: 1, maxLength: 6 })
      .map((parts) => parts.join(''));
    const plain = fc.array(segment, { maxLength: 6 }).map((segments) => '/' + segments.join('/'));
    fc.assert(
      fc.property(plain, (raw) => {
        const out = pathOf(raw);
        const decodedRaw = Buffer.from(decodeOnce(Buffer.from(raw, 'utf8').toString('latin1')), 'latin1');
        const decodedOut = Buffer.from(decodeOnce(out), 'latin1');
        assert.deepEqual(decodedOut, decodedRaw, `input ${JSON.stringify(raw)} gave ${JSON.stringify(out)}`);
      }),
      { numRuns: 2000 },
    );
  });
});
