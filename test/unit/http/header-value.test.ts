/**
 * Header values built from identity data (src/http/header-value.ts): never a CR,
 * LF or other control (header injection), non-ASCII percent-encoded, bounded length.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHeaderValue } from '../../../src/http/header-value.js';

const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/** Any UTF-16 string, lone surrogates included (JSON bodies can carry them as "\ud800"). */
const anyUtf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 60 }).map((codes) => String.fromCharCode(...codes));

describe('toHeaderValue', () => {
  test('plain ASCII passes through unchanged', () => {
    assert.equal(toHeaderValue('alice@example.com'), 'alice@example.com');
    assert.equal(toHeaderValue('a b ~!@#$^&*()'), 'a b ~!@#$^&*()');
  });

  test('a literal "%" is encoded, so an encoded value and its decoded text can never collide', () => {
    assert.equal(toHeaderValue('100%'), '100%25');
    assert.equal(toHeaderValue('%C3%A9'), '%25C3%25A9');
    assert.equal(toHeaderValue('é'), '%C3%A9');
    assert.notEqual(toHeaderValue('%C3%A9'), toHeaderValue('é'));
    assert.equal(decodeURIComponent(toHeaderValue('50% é')!), '50% é');
  });

  test('null and undefined give undefined', () => {
    assert.equal(toHeaderValue(undefined), undefined);
    assert.equal(toHeaderValue(null), undefined);
  });

  test('numbers and booleans are stringified, objects and arrays JSON-encoded', () => {
    assert.equal(toHeaderValue(42), '42');
    assert.equal(toHeaderValue(false), 'false');
    assert.equal(toHeaderValue({ a: 1 }), '{"a":1}');
    assert.equal(toHeaderValue(['x', 'y']), '["x","y"]');
  });

  test('CR/LF never survive (no header injection)', () => {
    assert.equal(toHeaderValue('alice\r\nX-Kratos-Authenticated-Identity-Id: admin'), 'aliceX-Kratos-Authenticated-Identity-Id: admin');
    assert.equal(toHeaderValue('a\nb\rc'), 'abc');
  });

  test('other controls (NUL, TAB, ESC, DEL, C1) are dropped', () => {
    assert.equal(toHeaderValue('a\u0000b\tc\u001bd\u007fe'), 'abcde');
    const c1 = toHeaderValue('x\u0085y');
    assert.ok(c1 !== undefined && VISIBLE_ASCII.test(c1));
  });

  test('non-ASCII is UTF-8 percent-encoded', () => {
    assert.equal(toHeaderValue('José'), 'Jos%C3%A9');
    assert.equal(toHeaderValue('名前'), '%E5%90%8D%E5%89%8D');
    assert.equal(toHeaderValue('😀'), '%F0%9F%98%80');
    assert.equal(toHeaderValue('\u202eevil'), '%E2%80%AEevil');
  });

  test('controls are dropped and non-ASCII encoded in the same value', () => {
    assert.equal(toHeaderValue('é\r\né'), '%C3%A9%C3%A9');
  });

  test('long ASCII values are truncated to 4096 characters', () => {
    const v = toHeaderValue('a'.repeat(10_000));
    assert.equal(v, 'a'.repeat(4096));
  });

  test('long non-ASCII values are truncated before encoding (bounded output)', () => {
    const v = toHeaderValue('é'.repeat(10_000))!;
    assert.equal(v, '%C3%A9'.repeat(4096));
  });

  test('a surrogate pair cut by the truncation does not throw', () => {
    const v = toHeaderValue('x'.repeat(4095) + '😀');
    assert.ok(v !== undefined && VISIBLE_ASCII.test(v));
    assert.ok(v.startsWith('x'.repeat(4095)));
  });

  test('a lone surrogate does not throw and is replaced', () => {
    const v = toHeaderValue('a\uD800b');
    assert.ok(v !== undefined && VISIBLE_ASCII.test(v));
    assert.ok(v.startsWith('a') && v.endsWith('b'));
  });

  test('property: never throws; the result is visible ASCII without CR/LF, of bounded length', () => {
    fc.assert(
      fc.property(fc.oneof(anyUtf16, fc.string({ unit: 'binary', maxLength: 60 })), (s) => {
        const v = toHeaderValue(s);
        assert.ok(v !== undefined);
        assert.match(v, VISIBLE_ASCII);
        assert.ok(v.length <= 4096 * 9);
      }),
      { numRuns: 5000 },
    );
  });

  test('property: for well-formed text, decoding the result gives the input minus controls', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('%')),
        (s) => {
          const v = toHeaderValue(s)!;
          const withoutControls = [...s].filter((c) => !/[\u0000-\u001f\u007f]/.test(c)).join('');
          assert.equal(decodeURIComponent(v), withoutControls);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
