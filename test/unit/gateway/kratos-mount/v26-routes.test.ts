/**
 * The mount's purge rule against the Kratos v26.2.0 spec (test/fixtures): every v1 logout and
 * revocation operation purges, every public operation that is not a GET purges, and the v1
 * reads that are not on the read-only list (listing sessions, token exchange, logout-flow
 * init) purge too, which costs one whoami and is never unsafe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isReadOnlyOperation } from '../../../../src/gateway/kratos-mount/purge-policy.js';
import { MODERN_SPEC_FILE } from '../../../helpers/modern-kratos.js';

const spec = JSON.parse(readFileSync(MODERN_SPEC_FILE, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };

/** The spec's path and method of an operation, so a renamed or moved route fails here. */
function operation(operationId: string): { method: string; path: string } {
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) if (op.operationId === operationId) return { method: method.toUpperCase(), path };
  }
  throw new Error(`the v26.2.0 spec has no operation ${operationId}`);
}

/** A concrete path for a templated one (`/sessions/{id}` → `/sessions/x`). */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x');

test('every v1 logout and revocation operation of the v26 spec purges', () => {
  for (const [id, method, path] of [
    ['updateLogoutFlow', 'GET', '/self-service/logout'],
    ['performNativeLogout', 'DELETE', '/self-service/logout/api'],
    ['disableMyOtherSessions', 'DELETE', '/sessions'],
    ['disableMySession', 'DELETE', '/sessions/{id}'],
  ] as const) {
    assert.deepEqual(operation(id), { method, path }, id);
    assert.equal(isReadOnlyOperation(method, concrete(path)), false, `${id}: ${method} ${path} must purge`);
  }
});

test('the v1 reads off the read-only list purge (at worst one needless whoami)', () => {
  for (const id of ['listMySessions', 'exchangeSessionToken', 'createBrowserLogoutFlow']) {
    const { method, path } = operation(id);
    assert.equal(method, 'GET', id);
    assert.equal(isReadOnlyOperation(method, concrete(path)), false, id);
  }
  assert.equal(isReadOnlyOperation('GET', operation('toSession').path), true, 'whoami stays read-only');
});

test('no public operation of the v26 spec other than a GET/HEAD is read-only', () => {
  let checked = 0;
  for (const [path, ops] of Object.entries(spec.paths)) {
    if (path.startsWith('/admin/')) continue; // the mount serves the public port only
    for (const method of Object.keys(ops)) {
      if (method === 'get' || method === 'head' || method === 'parameters') continue;
      assert.equal(isReadOnlyOperation(method.toUpperCase(), concrete(path)), false, `${method} ${path}`);
      checked++;
    }
  }
  assert.ok(checked >= 8, `only ${checked} public non-GET operations found: the fixture spec is not the v26 one`);
});
