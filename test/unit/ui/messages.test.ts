/**
 * The UI words Kratos's validator texts as sentences people can act on, by message id and,
 * for v0.6 (which sends every schema violation as 4000001 with the raw text), by pattern.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayMessages, displayText } from '../../../src/ui/message-wording.js';
import type { UiText } from '../../../src/ui/flow.js';

const err = (id: number | undefined, text: string): UiText => ({ id, text, type: 'error' });
const email = { name: 'traits.email', type: 'email' };
const password = { name: 'password', type: 'password' };

test('missing properties say what to enter', () => {
  assert.equal(displayText(err(4000002, 'Property password is missing.'), password), 'Enter a password.');
  assert.equal(displayText(err(4000002, 'Property email is missing.'), email), 'Enter your email address.');
  assert.equal(
    displayText(err(4000002, 'Property email is missing.')),
    'Enter your email address.',
    'without a field (e.g. a flow message)',
  );
  assert.equal(
    displayText(err(4000002, 'Property password_identifier is missing.'), { name: 'password_identifier', type: 'text' }),
    'Enter your email or username.',
  );
  assert.equal(
    displayText(err(4000002, 'Property nickname is missing.'), { name: 'traits.nickname', type: 'text' }),
    'Fill in this field.',
  );
});

test('length and format violations, as v0.6 (4000001) and as the embedded server/v1 ids (4000003, 4000004) send them', () => {
  for (const id of [4000001, 4000003]) {
    assert.equal(displayText(err(id, 'length must be >= 3, but got 2'), email), 'Must be at least 3 characters.');
    assert.equal(displayText(err(id, 'length must be >= 3, but got 0'), email), 'Enter your email address.');
    assert.equal(displayText(err(id, 'length must be >= 8, but got 0'), { name: 'traits.name', type: 'text' }), 'Fill in this field.');
  }
  assert.equal(displayText(err(4000001, 'length must be <= 320, but got 400'), email), 'Must be at most 320 characters.');
  for (const id of [4000001, 4000004]) {
    assert.equal(displayText(err(id, '"ada@" is not valid "email"'), email), 'Enter a valid email address.');
    assert.equal(displayText(err(id, '"" is not valid "email"'), email), 'Enter your email address.');
  }
});

test('the empty sign-up: one sentence per field, no validator text', () => {
  const shown = displayMessages([err(4000001, 'length must be >= 3, but got 0'), err(4000001, '"" is not valid "email"')], email).map(
    (m) => m.text,
  );
  assert.deepEqual(shown, ['Enter your email address.']);
  assert.deepEqual(
    displayMessages([err(4000002, 'Property password is missing.')], password).map((m) => m.text),
    ['Enter a password.'],
  );
});

test('minutes are whole: "15.00 minutes" reads "15 minutes"', () => {
  const recovered = {
    id: 1060001,
    type: 'success' as const,
    text: 'You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next 15.00 minutes.',
  };
  assert.equal(displayText(recovered), recovered.text.replace('15.00 minutes', '15 minutes'));
  assert.equal(
    displayText(err(4010001, 'The login flow expired 1.02 minutes ago, please try again.')),
    'The login flow expired 1 minute ago, please try again.',
  );
  assert.equal(
    displayText(err(4040001, 'The registration flow expired 0.20 minutes ago, please try again.')),
    'The registration flow expired 1 minute ago, please try again.',
  );
  assert.equal(
    displayText(err(4050001, 'The settings flow expired 59.60 minutes ago, please try again.')),
    'The settings flow expired 60 minutes ago, please try again.',
  );
});

test('anything else is shown exactly as Kratos sent it', () => {
  for (const m of [
    err(
      4000006,
      'The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.',
    ),
    err(4000005, 'The password can not be used because password length must be at least 6 characters but only got 3.'),
    err(4000001, 'additionalProperties "x" not allowed'),
    err(4000001, '"ftp://x" is not valid "uri"'),
    err(undefined, 'length must be >= 3, but got 0'),
    err(4000002, 'Something else entirely.'),
    { id: 1050001, text: 'Your changes have been saved! 2.50 minutes', type: 'success' as const },
  ]) {
    assert.equal(displayText(m, email), m.text);
  }
});
