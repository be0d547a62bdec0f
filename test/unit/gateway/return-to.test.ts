/**
 * return_to validation (src/gateway/return-to.ts) against an open-redirect corpus: the forms
 * behind oauth2-proxy CVE-2020-5233, CVE-2020-11053 (`%09`/`%0a` between slashes),
 * CVE-2020-4037 and the usual userinfo / backslash / scheme tricks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReturnToPolicy } from '../../../src/gateway/return-to.js';

const policy = new ReturnToPolicy('http://127.0.0.1:4455', ['app.example.com', 'admin.example.com:8443']);
const ALLOWED_HOSTS = new Set(['127.0.0.1:4455', 'app.example.com', 'admin.example.com:8443']);

/** Candidates that must be accepted, with the normalised URL they become. */
const ACCEPTED: Array<[string, string]> = [
  ['http://127.0.0.1:4455/', 'http://127.0.0.1:4455/'],
  ['http://127.0.0.1:4455', 'http://127.0.0.1:4455/'],
  ['http://127.0.0.1:4455/dashboard?tab=1&x=%2F', 'http://127.0.0.1:4455/dashboard?tab=1&x=%2F'],
  ['http://127.0.0.1:4455/a/b#section', 'http://127.0.0.1:4455/a/b#section'],
  ['HTTP://127.0.0.1:4455/upper', 'http://127.0.0.1:4455/upper'],
  ['https://127.0.0.1:4455/tls', 'https://127.0.0.1:4455/tls'],
  ['https://app.example.com/path', 'https://app.example.com/path'],
  ['https://APP.EXAMPLE.COM/Path', 'https://app.example.com/Path'],
  ['http://App.Example.Com:80/', 'http://app.example.com/'],
  ['https://app.example.com:443/', 'https://app.example.com/'],
  ['https://admin.example.com:8443/x', 'https://admin.example.com:8443/x'],
  ['http://127.0.0.1:4455/%0d%0aSet-Cookie:a=b', 'http://127.0.0.1:4455/%0d%0aSet-Cookie:a=b'],
  ['http://127.0.0.1:4455/caf%C3%A9', 'http://127.0.0.1:4455/caf%C3%A9'],
];

/** Open-redirect corpus: every one of these must be rejected. */
const REJECTED: Array<[string, string]> = [
  ['//evil.com', 'protocol-relative'],
  ['///evil.com', 'triple slash'],
  ['////evil.com', 'quadruple slash'],
  ['/\\evil.com', 'slash backslash'],
  ['\\\\evil.com', 'double backslash'],
  ['\\/evil.com', 'backslash slash'],
  ['/\\/evil.com', 'slash backslash slash'],
  ['https:/\\evil.com', 'scheme, slash, backslash'],
  ['https:\\\\evil.com', 'scheme, double backslash'],
  ['https:\\/evil.com', 'scheme, backslash, slash'],
  ['http:evil.com', 'scheme without slashes'],
  ['http:/evil.com', 'scheme with one slash'],
  ['http:///evil.com', 'scheme with three slashes'],
  ['http://127.0.0.1:4455@evil.com', 'allowed host as userinfo'],
  ['http://127.0.0.1:4455@evil.com/', 'allowed host as userinfo, with path'],
  ['http://user:pass@127.0.0.1:4455/', 'credentials on the allowed host'],
  ['http://user@127.0.0.1:4455/', 'username on the allowed host'],
  ['http://evil.com\\@127.0.0.1:4455', 'backslash before @'],
  ['http://evil.com%5C@127.0.0.1:4455', 'encoded backslash in userinfo'],
  ['http://127.0.0.1:4455%2F@evil.com', 'encoded slash in userinfo'],
  ['http://evil.com#@127.0.0.1:4455', 'fragment before @'],
  ['http://evil.com?@127.0.0.1:4455', 'query before @'],
  ['http://evil.com/@127.0.0.1:4455', 'path before @'],
  ['http://127.0.0.1:4455.evil.com', 'allowed host:port as a label prefix'],
  ['http://127.0.0.1.evil.com:4455/', 'allowed host as a label prefix'],
  ['https://app.example.com.evil.com/', 'allowed host as a subdomain of evil'],
  ['https://evilapp.example.com/', 'allowed host as a suffix'],
  ['https://sub.app.example.com/', 'subdomain of an allowed host'],
  ['http://evil.com/http://127.0.0.1:4455/', 'allowed URL in the path'],
  ['HTTP://EVIL.COM', 'upper-case evil'],
  ['http://evil.com:4455/', 'evil host with the allowed port'],
  ['http://127.0.0.1:4456/', 'allowed host with another port'],
  ['http://127.0.0.1/', 'allowed host without its port'],
  ['https://app.example.com:444/', 'extra host with a port it was not allowed on'],
  ['https://admin.example.com/', 'host allowed only on another port'],
  ['http://localhost:4455/', 'another name for the same machine'],
  ['http://[::1]:4455/', 'IPv6 loopback'],
  ['/%09/evil.com', 'encoded tab between slashes'],
  ['/%0a/evil.com', 'encoded newline between slashes'],
  ['/\t/evil.com', 'raw tab between slashes'],
  ['/\n/evil.com', 'raw newline between slashes'],
  ['/\r\n/evil.com', 'raw CRLF between slashes'],
  ['http:/\t/evil.com', 'tab inside the scheme separator'],
  ['ht\ttp://127.0.0.1:4455/', 'tab inside the scheme'],
  ['http://127.0.0.1:4455/\r\nSet-Cookie: a=b', 'raw CRLF in the path'],
  ['http://127.0.0.1:4455/\u0000', 'raw NUL'],
  [' http://127.0.0.1:4455/', 'leading space'],
  ['\thttp://127.0.0.1:4455/', 'leading tab'],
  ['\u00a0http://127.0.0.1:4455/', 'leading NBSP'],
  ['\u3000http://127.0.0.1:4455/', 'leading ideographic space'],
  ['http://127.0.0.1:4455/ ', 'trailing space'],
  ['http://127.0.0.1:4455/a b', 'space in the path'],
  ['javascript:alert(1)', 'javascript scheme'],
  ['JavaScript://127.0.0.1:4455/%0aalert(1)', 'javascript with an authority'],
  ['data:text/html,<script>alert(1)</script>', 'data scheme'],
  ['vbscript:msgbox(1)', 'vbscript scheme'],
  ['file:///etc/passwd', 'file scheme'],
  ['ftp://127.0.0.1:4455/', 'ftp on the allowed host'],
  ['ws://127.0.0.1:4455/', 'ws on the allowed host'],
  ['http://ехample.com/', 'IDN homograph (Cyrillic)'],
  ['https://аpp.example.com/', 'homograph of an allowed host'],
  ['http://xn--80ak6aa92e.com/', 'punycode host'],
  ['http://evil.com%E3%80%82127.0.0.1:4455/', 'encoded ideographic full stop'],
  ['', 'empty'],
  ['/', 'relative root'],
  ['/dashboard', 'relative path'],
  ['dashboard', 'bare word'],
  ['?x=1', 'query only'],
  ['#x', 'fragment only'],
  ['http://', 'scheme only'],
  ['http://127.0.0.1:4455/' + 'a'.repeat(4096), 'too long'],
];

describe('ReturnToPolicy: accepted', () => {
  for (const [candidate, normalised] of ACCEPTED) {
    test(`accepts ${JSON.stringify(candidate)}`, () => {
      assert.equal(policy.validate(candidate), normalised);
    });
  }
  test('the public base URL host is always allowed, even with no extra hosts', () => {
    const p = new ReturnToPolicy('https://Gateway.Example.org', []);
    assert.equal(p.validate('https://gateway.example.org/x'), 'https://gateway.example.org/x');
    assert.equal(p.validate('https://app.example.com/'), undefined);
  });
  test('a default port in the base URL matches the host without a port', () => {
    const p = new ReturnToPolicy('https://gw.example.org:443/', []);
    assert.equal(p.validate('https://gw.example.org/'), 'https://gw.example.org/');
    assert.equal(p.validate('https://gw.example.org:8443/'), undefined);
  });
  test('unicode full stops normalise to the allowed host; the result is the normalised ASCII URL', () => {
    assert.equal(policy.validate('http://127。0。0。1:4455/x'), 'http://127.0.0.1:4455/x');
  });
});

describe('ReturnToPolicy: open-redirect corpus', () => {
  test('the corpus has at least 40 cases', () => {
    assert.ok(REJECTED.length >= 40, `only ${REJECTED.length}`);
  });
  for (const [candidate, why] of REJECTED) {
    test(`rejects ${JSON.stringify(candidate.length > 80 ? candidate.slice(0, 80) + '…' : candidate)} (${why})`, () => {
      assert.equal(policy.validate(candidate), undefined);
    });
  }
});

describe('ReturnToPolicy: properties', () => {
  const piece = fc.constantFrom(
    'http',
    'https',
    'HTTP',
    'javascript',
    ':',
    '/',
    '//',
    '\\',
    '@',
    '.',
    '%09',
    '%0a',
    '%2F',
    '%5C',
    '\t',
    '\n',
    ' ',
    '#',
    '?',
    '127.0.0.1',
    ':4455',
    ':4456',
    'app.example.com',
    'admin.example.com',
    ':8443',
    'evil.com',
    'user',
    'ех',
    '。',
    '[::1]',
    'x',
  );
  test('anything accepted is an http(s) URL on an allowed host without userinfo, whitespace or backslash', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const candidate = parts.join('');
        const out = policy.validate(candidate);
        if (out === undefined) return;
        const u = new URL(out);
        assert.ok(u.protocol === 'http:' || u.protocol === 'https:', candidate);
        assert.ok(ALLOWED_HOSTS.has(u.host), `${JSON.stringify(candidate)} → ${out}`);
        assert.equal(u.username, '');
        assert.equal(u.password, '');
        assert.doesNotMatch(out, /[\s\\\x00-\x1f\x7f]/);
        assert.equal(policy.validate(out), out, 'accepting is idempotent');
      }),
      { numRuns: 5000 },
    );
  });
  test('anything built on an allowed origin with a plain path is accepted', () => {
    const path = fc
      .array(fc.constantFrom('a', 'B', '0', '-', '_', '.', '~', '/', '%2F', '%20', '?', '=', '&'), { maxLength: 20 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.constantFrom('http://127.0.0.1:4455', 'https://app.example.com', 'https://admin.example.com:8443'),
        path,
        (origin, p) => {
          const out = policy.validate(`${origin}/${p}`);
          assert.ok(out !== undefined, `${origin}/${p} rejected`);
          assert.equal(new URL(out).host, new URL(origin).host);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
