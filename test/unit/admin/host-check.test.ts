/**
 * The admin listener's Host policy (DNS rebinding defence): IP literals, localhost, the listen
 * host and configured names pass; every other name, and malformed Host values, do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminHostPolicy, hostName } from '../../../src/admin/host-check.js';

test('hostName strips the port, lower-cases, and keeps IPv6 literals bracketed', () => {
  assert.equal(hostName('LocalHost:4456'), 'localhost');
  assert.equal(hostName('10.0.3.7'), '10.0.3.7');
  assert.equal(hostName('[::1]:4456'), '[::1]');
  assert.equal(hostName('[FD00::1]'), '[fd00::1]');
  for (const bad of ['', '[::1', '[::1]x', '[nope]', '::1', 'a:b:c', 'host:port', 'host:123456'])
    assert.equal(hostName(bad), undefined, bad);
});

test('IP literals, localhost and the listen host pass; other names do not', () => {
  const p = new AdminHostPolicy('0.0.0.0', []);
  for (const ok of [
    '127.0.0.1:4456',
    '127.8.9.1',
    '10.244.1.17:4456',
    '[::1]:4456',
    '[fd00:10:244::5]',
    'localhost',
    'LOCALHOST:4456',
    '0.0.0.0:4456',
    undefined,
  ]) {
    assert.ok(p.allows(ok), String(ok));
  }
  for (const bad of [
    'evil.example',
    'evil.example:4456',
    '127.0.0.1.nip.io',
    'localhost.',
    'sub.localhost',
    'kratos-gateway-admin',
    '',
    'a b',
  ]) {
    assert.ok(!p.allows(bad), bad);
  }
});

test('configured names (and a named listen host) pass, exact and case-insensitive', () => {
  const p = new AdminHostPolicy('gateway-admin', ['Kratos-Gateway-Admin.gateway.svc.cluster.local']);
  assert.ok(p.allows('gateway-admin:4456'));
  assert.ok(p.allows('kratos-gateway-admin.gateway.svc.cluster.local:4456'));
  assert.ok(p.allows('KRATOS-GATEWAY-ADMIN.GATEWAY.SVC.CLUSTER.LOCAL'));
  assert.ok(!p.allows('kratos-gateway-admin.gateway.svc'));
  assert.ok(!p.allows('x.kratos-gateway-admin.gateway.svc.cluster.local'));
});
