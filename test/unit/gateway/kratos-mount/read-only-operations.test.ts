import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReadOnlyOperation, purgeComparablePath } from '../../../../src/gateway/kratos-mount/purge-policy.js';

test('the comparison path folds every spelling a lenient router maps onto one route', () => {
  assert.equal(purgeComparablePath('/self-service/browser/flows/logout'), '/self-service/browser/flows/logout');
  assert.equal(purgeComparablePath('/self-service/browser/flows/Logout'), '/self-service/browser/flows/logout');
  assert.equal(purgeComparablePath('/self-service/browser/flows/logout//'), '/self-service/browser/flows/logout');
  assert.equal(purgeComparablePath('/self-service//browser/./flows/x/../logout'), '/self-service/browser/flows/logout');
  assert.equal(purgeComparablePath('/self-service/browser/flows/logou%74'), '/self-service/browser/flows/logout');
  assert.equal(purgeComparablePath('/SESSIONS/'), '/sessions');
  assert.equal(purgeComparablePath('/'), '/');
  assert.equal(purgeComparablePath('/a%2Fb'), undefined, 'what cannot be canonicalized is never read-only');
});

test('only GET and HEAD of the listed operations are read-only', () => {
  for (const [method, path] of [
    ['GET', '/sessions/whoami'],
    ['HEAD', '/Sessions/WhoAmI/'],
    ['GET', '/self-service/settings/flows'],
    ['GET', '/self-service/login/browser'],
    ['GET', '/self-service/verification/api'],
    ['GET', '/schemas/default'],
    ['GET', '/self-service/errors'],
    ['GET', '/health/alive'],
  ] as const) {
    assert.equal(isReadOnlyOperation(method, path), true, `${method} ${path}`);
  }
  for (const [method, path] of [
    ['GET', '/self-service/browser/flows/logout'],
    ['HEAD', '/self-service/browser/flows/logout'],
    ['GET', '/self-service/logout'],
    ['GET', '/self-service/settings'],
    ['GET', '/self-service/settings/browser'],
    ['GET', '/self-service/recovery'],
    ['GET', '/self-service/verification'],
    ['GET', '/self-service/recovery/methods/link'],
    ['GET', '/self-service/login'],
    ['GET', '/sessions'],
    ['GET', '/sessions/token-exchange'],
    ['GET', '/schemas/a/b'],
    ['GET', '/sessions/whoami/../../self-service/browser/flows/logout'],
    ['POST', '/sessions/whoami'],
    ['DELETE', '/sessions/whoami'],
    ['OPTIONS', '/health/alive'],
    ['POST', '/self-service/login/flows'],
  ] as const) {
    assert.equal(isReadOnlyOperation(method, path), false, `${method} ${path}`);
  }
});
