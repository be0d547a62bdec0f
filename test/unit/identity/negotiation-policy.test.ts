import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isJsonRequest } from '../../../src/identity/x/negotiation.js';
import { MAX_IDENTIFIER_LENGTH } from '../../../src/identity/identity/identity.js';
import {
  levenshtein,
  longestCommonSubstring,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
} from '../../../src/identity/selfservice/strategy/password/validator.js';

describe('isJsonRequest', () => {
  const cases: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ 'content-type': 'application/json; charset=utf-8' }, true],
    [{ accept: 'application/json, text/plain, */*' }, true],
    [{ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, false],
    [{ accept: '*/*' }, false],
    [{ accept: 'application/json;q=0.5, text/html' }, false],
    [{ accept: 'text/html;q=0.5, application/json' }, true],
    [{ accept: 'application/json, text/html' }, false],
    [{ accept: 'application/json, */*' }, true],
    [{ accept: 'text/*, application/json' }, true],
  ];
  for (const [headers, expected] of cases) {
    it(`${JSON.stringify(headers)} → ${expected}`, () => assert.equal(isJsonRequest(headers), expected));
  }
});

describe('password policy', () => {
  const cfg = { haveibeenpwnedEnabled: false, maxBreaches: 0, ignoreNetworkErrors: true };

  it('computes distances', () => {
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(longestCommonSubstring('alice@example.com', 'xxalice@yy'), 6);
  });

  it('refuses short passwords and ones similar to the identifier', async () => {
    assert.equal(await passwordProblem('a@b.c', 'abc', cfg), 'password length must be at least 6 characters but only got 3');
    assert.equal(
      await passwordProblem('alice@example.com', 'alice@example.com1', cfg),
      'the password is too similar to the user identifier',
    );
    assert.equal(await passwordProblem('alice@example.com', 'ALICE@EXAMPLE', cfg), 'the password is too similar to the user identifier');
    assert.equal(await passwordProblem('alice@example.com', 'correct horse battery', cfg), undefined);
  });

  it('refuses passwords over the maximum before the quadratic similarity check, and bounds the identifier it compares', async () => {
    assert.equal(
      await passwordProblem('a@b.c', 'x'.repeat(MAX_PASSWORD_LENGTH + 1), cfg),
      `password length must be at most ${MAX_PASSWORD_LENGTH} characters but got ${MAX_PASSWORD_LENGTH + 1}`,
    );
    assert.equal(await passwordProblem('a@b.c', 'Zq9!' + 'y'.repeat(MAX_PASSWORD_LENGTH - 4), cfg), undefined);
    // An unvalidated over-long identifier is compared by its first MAX_IDENTIFIER_LENGTH characters only.
    const longId = 'q'.repeat(MAX_IDENTIFIER_LENGTH) + 'alice@example.com';
    assert.equal(
      await passwordProblem(longId, 'q'.repeat(MAX_IDENTIFIER_LENGTH), cfg),
      'the password is too similar to the user identifier',
    );
    assert.equal(await passwordProblem(longId, 'alice@example.com-and-more', cfg), undefined);
  });

  it('consults HaveIBeenPwned only when enabled, by k-anonymity prefix', async () => {
    const calls: string[] = [];
    // SHA-1("password123") = CBFDAC6008F9CAB4083784CBD1874F76618D2A97
    const fake = (async (url: string | URL | Request) => {
      calls.push(String(url));
      return new Response('C6008F9CAB4083784CBD1874F76618D2A97:5\r\nABCDEF:1\r\n');
    }) as typeof fetch;
    assert.equal(await passwordProblem('x@y.z', 'password123', cfg, fake), undefined);
    assert.equal(calls.length, 0);
    const on = { ...cfg, haveibeenpwnedEnabled: true };
    assert.equal(
      await passwordProblem('x@y.z', 'password123', on, fake),
      'the password has been found in data breaches and must no longer be used',
    );
    assert.deepEqual(calls, ['https://api.pwnedpasswords.com/range/CBFDA']);
    assert.equal(await passwordProblem('x@y.z', 'password123', { ...on, maxBreaches: 5 }, fake), undefined);
    const failing = (async () => {
      throw new Error('offline');
    }) as typeof fetch;
    assert.equal(await passwordProblem('x@y.z', 'password123', on, failing), undefined);
    assert.match(
      (await passwordProblem('x@y.z', 'password123', { ...on, ignoreNetworkErrors: false }, failing)) ?? '',
      /could not be checked/,
    );
  });
});
