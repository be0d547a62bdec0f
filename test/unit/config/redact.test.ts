import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl } from '../../../src/config/redact.js';

test('a password in the userinfo is masked, the user kept', () => {
  assert.equal(redactUrl('redis://gw:s3cret@redis:6379'), 'redis://gw:***@redis:6379');
  assert.equal(redactUrl('http://kratos:4433/'), 'http://kratos:4433/');
});

test('every query value is masked whatever its name (clients read options, ioredis a password, from the query)', () => {
  const printed = redactUrl('redis://redis:6379/?password=s3cret&username=gw&Password=other&db=0');
  assert.doesNotMatch(printed, /s3cret|other/);
  assert.equal(printed, 'redis://redis:6379/?password=***&username=***&Password=***&db=***');
});

test('text that is not a URL is returned as it is', () => {
  assert.equal(redactUrl('not a url'), 'not a url');
});
