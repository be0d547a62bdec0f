/**
 * Identity-header stripping (src/gateway/pipeline/strip-protected-headers.ts): every X-Kratos-* and
 * every configured identity header goes, in any case and with "_" for "-"
 * (oauth2-proxy CVE-2025-64484, Caddy GHSA-7r4p-vjf4-gxv4).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHeaderName } from '../../../src/http/header-name.js';
import { IDENTITY_ID_HEADER } from '../../../src/gateway/pipeline/mutators/identity-headers.js';
import { stripIdentityHeaders } from '../../../src/gateway/pipeline/strip-protected-headers.js';

const CONFIGURED = new Set(['x-user-email', 'x-user-first-name', IDENTITY_ID_HEADER].map(normalizeHeaderName));

function strip(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  stripIdentityHeaders(headers, CONFIGURED);
  return headers;
}

describe('normalizeHeaderName', () => {
  test('lower-cases and maps "_" to "-"', () => {
    assert.equal(normalizeHeaderName('X_KRATOS_Authenticated_Identity_Id'), 'x-kratos-authenticated-identity-id');
    assert.equal(normalizeHeaderName('X-User-Email'), 'x-user-email');
    assert.equal(normalizeHeaderName('x__a'), 'x--a');
  });
});

describe('stripIdentityHeaders', () => {
  const spoofed = [
    'x-kratos-authenticated-identity-id',
    'X-Kratos-Authenticated-Identity-Id',
    'X-KRATOS-AUTHENTICATED-IDENTITY-ID',
    'x_kratos_authenticated_identity_id',
    'X_Kratos_Authenticated_Identity_Id',
    'x-kratos_authenticated-identity_id',
    'X_KRATOS_anything',
    'x-kratos-session-id',
    'X-Kratos-Whatever-Else',
    'x-kratos-',
    'X-User-Email',
    'x-user-email',
    'x_user_email',
    'X-USER-EMAIL',
    'X_User_Email',
    'x-user-first-name',
    'X_USER_FIRST_NAME',
  ];
  for (const name of spoofed) {
    test(`removes ${name}`, () => {
      const h = strip({ [name]: 'victim', host: 'gw' });
      assert.equal(
        Object.keys(h).some((k) => k === name),
        false,
      );
      assert.deepEqual(h, { host: 'gw' });
    });
  }

  test('removes every variant at once and keeps unrelated headers untouched', () => {
    const h: IncomingHttpHeaders = {
      host: 'gw.example',
      accept: 'text/html',
      cookie: 'ory_kratos_session=abc; theme=dark',
      authorization: 'Bearer t',
      'x-request-id': 'r1',
      'x-user-emails': 'not configured',
      'x-user': 'not configured',
      'x-kratosx': 'not the prefix',
      'kratos-x': 'not the prefix',
      'x-forwarded-for': '1.2.3.4',
    };
    for (const name of spoofed) h[name] = 'spoof';
    const expected = { ...h };
    for (const name of spoofed) delete expected[name];
    strip(h);
    assert.deepEqual(h, expected);
    assert.equal(h['x-user-emails'], 'not configured');
    assert.equal(h['x-kratosx'], 'not the prefix');
  });

  test('array-valued headers are removed too', () => {
    const h = strip({ 'x-kratos-authenticated-identity-id': ['a', 'b'] as unknown as string, 'set-cookie': ['a=b'] });
    assert.deepEqual(h, { 'set-cookie': ['a=b'] });
  });

  test('with no configured names, X-Kratos-* still goes and X-User-Email stays', () => {
    const h: IncomingHttpHeaders = { X_Kratos_Authenticated_Identity_Id: 'x', 'x-user-email': 'kept' };
    stripIdentityHeaders(h, new Set());
    assert.deepEqual(h, { 'x-user-email': 'kept' });
  });

  test('property: no header whose normalised name is protected survives', () => {
    const nameChar = fc.constantFrom('x', 'X', '-', '_', 'k', 'K', 'r', 'a', 't', 'o', 's', 'u', 'e', 'm', 'i', 'l', 'U', 'E');
    const variants = fc.oneof(
      fc.array(nameChar, { minLength: 1, maxLength: 16 }).map((c) => c.join('')),
      fc
        .constantFrom('x-kratos-', 'x-user-email')
        .chain((base) =>
          fc
            .array(fc.boolean(), { minLength: base.length, maxLength: base.length })
            .map((flags) => [...base].map((c, i) => (flags[i] ? (c === '-' ? '_' : c.toUpperCase()) : c)).join('')),
        )
        .chain((prefix) => fc.string({ maxLength: 6 }).map((tail) => prefix + tail)),
    );
    fc.assert(
      fc.property(fc.uniqueArray(variants, { maxLength: 8 }), (names) => {
        const h: IncomingHttpHeaders = {};
        for (const n of names) h[n] = 'v';
        strip(h);
        for (const n of Object.keys(h)) {
          const norm = n.toLowerCase().replaceAll('_', '-');
          assert.ok(!norm.startsWith('x-kratos-') && !CONFIGURED.has(norm), `${n} survived`);
        }
        for (const n of names) {
          const norm = n.toLowerCase().replaceAll('_', '-');
          if (!norm.startsWith('x-kratos-') && !CONFIGURED.has(norm)) assert.equal(h[n], 'v', `${n} was removed`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
