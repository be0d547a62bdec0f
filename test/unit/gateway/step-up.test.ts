import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSnapshot } from '../../../src/gateway/config-snapshot.js';
import { parseRequestTarget } from '../../../src/gateway/request-target.js';
import { stepUpLocation } from '../../../src/gateway/step-up.js';
import { testConfig } from '../../helpers/servers.js';

const PUBLIC = 'https://app.example';

function snapshot(kratos: Record<string, unknown>): ConfigSnapshot {
  return new ConfigSnapshot(testConfig({ kratos, proxy: { public_base_url: PUBLIC }, routes: [] }));
}

const at = (s: ConfigSnapshot, redirect: string | undefined) =>
  new URL(stepUpLocation(s, '127.0.0.1', {}, parseRequestTarget('/page?a=1'), redirect));

test('a Kratos public URL with a path prefix: only URLs under that prefix are Kratos, moved onto the mount', () => {
  const s = snapshot({ public_url: 'http://kratos.internal:4433/kratos/' });
  const followed = at(s, 'http://kratos.internal:4433/kratos/self-service/login/browser?aal=aal2');
  assert.equal(followed.origin + followed.pathname, `${PUBLIC}/.ory/kratos/public/self-service/login/browser`);
  assert.equal(followed.searchParams.get('return_to'), `${PUBLIC}/page?a=1`);
  for (const foreign of [
    'http://kratos.internal:4433/other/self-service/login/browser',
    'http://kratos.internal:4433/kratosx/self-service/login/browser',
    'http://user@kratos.internal:4433/kratos/self-service/login/browser',
    'https://kratos.internal:4433/kratos/self-service/login/browser',
    '/kratos/self-service/login/browser',
    `${PUBLIC}/not-the-mount/self-service/login/browser`,
  ]) {
    const fallback = at(s, foreign);
    assert.equal(fallback.origin + fallback.pathname, `${PUBLIC}/.ory/kratos/public/self-service/login/browser`, foreign);
    assert.equal(fallback.searchParams.get('aal'), 'aal2', foreign);
    assert.equal(fallback.searchParams.get('return_to'), `${PUBLIC}/page?a=1`, foreign);
    assert.equal([...fallback.searchParams.keys()].sort().join(','), 'aal,return_to', foreign);
  }
});

test('no redirect_browser_to: the login URL with aal=aal2 and return_to', () => {
  const s = snapshot({ public_url: 'http://kratos.internal:4433' });
  const u = at(s, undefined);
  assert.equal(u.searchParams.get('aal'), 'aal2');
  assert.equal(u.searchParams.get('return_to'), `${PUBLIC}/page?a=1`);
});

test('mount disabled: a redirect at the Kratos public URL is followed as it is (browsers reach Kratos there)', () => {
  const s = snapshot({ public_url: 'https://auth.example', mount_prefix: '' });
  const u = at(s, 'https://auth.example/self-service/login/browser?aal=aal2');
  assert.equal(u.origin + u.pathname, 'https://auth.example/self-service/login/browser');
  assert.equal(u.searchParams.get('return_to'), `${PUBLIC}/page?a=1`);
  assert.equal(at(s, 'https://evil.example/self-service/login/browser').searchParams.get('aal'), 'aal2');
  assert.notEqual(at(s, 'https://evil.example/self-service/login/browser').host, 'evil.example');
});
