/**
 * Credential extraction (src/gateway/pipeline/credentials): X-Session-Token, Authorization: Bearer
 * (scheme case-insensitive), the Kratos session cookie; precedence in that order; Kratos
 * is sent only the credential itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import { credentialExtractors, extractCredential } from '../../../src/gateway/pipeline/credentials/index.js';
import { bearerToken } from '../../../src/gateway/pipeline/credentials/bearer-token.js';
import { sessionCookie } from '../../../src/gateway/pipeline/credentials/session-cookie.js';
import { sessionTokenHeader } from '../../../src/gateway/pipeline/credentials/session-token-header.js';
import { isPlausibleToken } from '../../../src/gateway/pipeline/credentials/types.js';

const TOKEN_CHARS = /^[\x21-\x7e]+$/;

describe('bearer token', () => {
  const bearer = (authorization: string | undefined) => bearerToken.extract(authorization === undefined ? {} : { authorization });

  test('the scheme is case-insensitive', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) assert.equal(bearer(`${scheme} ory_st_abc123`), 'ory_st_abc123', scheme);
  });
  test('surrounding whitespace around the token is trimmed', () => {
    assert.equal(bearer('Bearer   tok  '), 'tok');
  });
  test('other schemes are ignored', () => {
    assert.equal(bearer('Basic dXNlcjpwYXNz'), undefined);
    assert.equal(bearer('Token abc'), undefined);
    assert.equal(bearer('Bearerabc'), undefined);
    assert.equal(bearer('Bearer'), undefined);
    assert.equal(bearer('Bearer\tabc'), undefined);
    assert.equal(bearer('xBearer abc'), undefined);
  });
  test('empty, whitespace-only and internally spaced tokens are rejected', () => {
    for (const v of ['Bearer ', 'Bearer     ', 'Bearer \t ', 'Bearer a b', 'Bearer a\tb', 'Bearer a\r\nb', 'Bearer a\u0000b', 'Bearer é']) {
      assert.equal(bearer(v), undefined, JSON.stringify(v));
    }
  });
  test('an oversized token is rejected', () => {
    assert.equal(bearer('Bearer ' + 'a'.repeat(4097)), undefined);
    assert.equal(bearer('Bearer ' + 'a'.repeat(4096)), 'a'.repeat(4096));
  });
  test('no Authorization header gives undefined', () => {
    assert.equal(bearer(undefined), undefined);
  });
  test('whoami gets only an Authorization: Bearer header', () => {
    assert.deepEqual(bearerToken.whoamiHeaders('tok'), { authorization: 'Bearer tok' });
  });
  test('property: never returns a value containing whitespace or controls', () => {
    const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer', 'Basic ', '');
    const body = fc.string({ unit: 'binary', maxLength: 40 });
    const ws = fc
      .array(fc.constantFrom(' ', '\t', '\r', '\n', '\u0000', '\u000b', '\u00a0', '\u2028', 'a', 'Z', '.', '='), { maxLength: 20 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(scheme, fc.oneof(body, ws), (s, rest) => {
        const v = bearer(s + rest);
        if (v === undefined) return;
        assert.match(v, TOKEN_CHARS, `returned ${JSON.stringify(v)}`);
        assert.ok(v.length >= 1 && v.length <= 4096);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('X-Session-Token', () => {
  test('returns the token, trimmed', () => {
    assert.equal(sessionTokenHeader.extract({ 'x-session-token': '  ory_st_x ' }), 'ory_st_x');
  });
  test('empty, whitespace and control-bearing values are rejected', () => {
    for (const v of ['', '   ', 'a b', 'a\u0001b'])
      assert.equal(sessionTokenHeader.extract({ 'x-session-token': v }), undefined, JSON.stringify(v));
  });
  test('an array value (header sent twice) is rejected', () => {
    assert.equal(sessionTokenHeader.extract({ 'x-session-token': ['a', 'b'] as unknown as string }), undefined);
  });
  test('whoami gets only X-Session-Token', () => {
    assert.deepEqual(sessionTokenHeader.whoamiHeaders('tok'), { 'x-session-token': 'tok' });
  });
});

describe('session cookie', () => {
  const cookie = sessionCookie('ory_kratos_session');
  const extract = (c: string) => cookie.extract({ cookie: c });

  test('returns only the Kratos cookie value among others', () => {
    assert.equal(extract('theme=dark; ory_kratos_session=MTYx-abc_=; csrf_token=zzz'), 'MTYx-abc_=');
  });
  test('a cookie whose name merely contains the Kratos name is not it', () => {
    assert.equal(extract('xory_kratos_session=evil'), undefined);
    assert.equal(extract('ory_kratos_session_x=evil'), undefined);
    assert.equal(extract('a=ory_kratos_session'), undefined);
  });
  test('an empty cookie value is rejected', () => {
    assert.equal(extract('ory_kratos_session='), undefined);
    assert.equal(extract('ory_kratos_session=; b=1'), undefined);
  });
  test('no cookie header gives undefined', () => {
    assert.equal(cookie.extract({}), undefined);
  });
  test('a custom cookie name is honoured and the default is then ignored', () => {
    const custom = sessionCookie('my_session');
    assert.equal(custom.extract({ cookie: 'ory_kratos_session=a; my_session=b' }), 'b');
    assert.equal(custom.extract({ cookie: 'ory_kratos_session=a' }), undefined);
  });
  test("whoamiHeaders sends only the Kratos cookie, none of the caller's others", () => {
    const headers = { cookie: 'theme=dark; ory_kratos_session=tok123; tracking=abc' };
    const value = cookie.extract(headers)!;
    const sent = cookie.whoamiHeaders(value);
    assert.deepEqual(sent, { cookie: 'ory_kratos_session=tok123' });
    assert.ok(!sent.cookie!.includes('theme') && !sent.cookie!.includes('tracking'));
  });
  test('the value sent to Kratos is byte-identical to the one the browser sent', () => {
    // A percent sign in a cookie value is not an escape to Kratos (Go reads cookies raw).
    const value = extract('ory_kratos_session=abc%2Bdef%3D')!;
    assert.deepEqual(cookie.whoamiHeaders(value), { cookie: 'ory_kratos_session=abc%2Bdef%3D' });
  });
});

describe('precedence: X-Session-Token > Bearer > cookie', () => {
  const extractors = credentialExtractors('ory_kratos_session');
  const pick = (h: IncomingHttpHeaders) => {
    const c = extractCredential(extractors, h);
    return c && { kind: c.source.kind, value: c.value };
  };
  const all: IncomingHttpHeaders = { 'x-session-token': 'st', authorization: 'Bearer bt', cookie: 'ory_kratos_session=ck' };

  test('all three: the session token header wins', () => {
    assert.deepEqual(pick(all), { kind: 'session_token', value: 'st' });
  });
  test('bearer and cookie: bearer wins', () => {
    assert.deepEqual(pick({ authorization: all.authorization, cookie: all.cookie }), { kind: 'bearer', value: 'bt' });
  });
  test('cookie only', () => {
    assert.deepEqual(pick({ cookie: all.cookie }), { kind: 'cookie', value: 'ck' });
  });
  test('Basic authorization falls through to the cookie', () => {
    assert.deepEqual(pick({ authorization: 'Basic eDp5', cookie: all.cookie }), { kind: 'cookie', value: 'ck' });
  });
  test('nothing usable gives undefined', () => {
    assert.equal(pick({ authorization: 'Bearer ', cookie: 'other=1', 'x-session-token': ' ' }), undefined);
  });
  test('the extractors have distinct kinds (they are part of the cache key)', () => {
    const kinds = extractors.map((e) => e.kind);
    assert.equal(new Set(kinds).size, kinds.length);
  });
  test('each source sends Kratos exactly one header', () => {
    for (const e of extractors) assert.equal(Object.keys(e.whoamiHeaders('v')).length, 1, e.kind);
  });
});

describe('isPlausibleToken', () => {
  test('accepts visible ASCII, rejects empty, spaces, controls, non-ASCII, > 4096', () => {
    assert.equal(isPlausibleToken('ory_st_AZaz09-._~+/='), true);
    for (const v of ['', ' ', 'a b', 'a\u007f', 'é', 'a'.repeat(4097)]) assert.equal(isPlausibleToken(v), false, JSON.stringify(v));
  });
});
