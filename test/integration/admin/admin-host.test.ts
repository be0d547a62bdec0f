/**
 * Review: the admin listener refuses DNS-rebinding requests. A browser tricked
 * into sending same-origin requests to the admin port carries the attacker's host name; such
 * requests get 421 and purge nothing, while IP literals (kubelet probes and Prometheus send
 * `Host: <pod IP>:<port>`), localhost and configured names are answered. The decision API keeps
 * answering forward-auth proxies, which send the protected site's Host.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;
let port: string;

before(async () => {
  stack = await startStack((u) => ({
    admin: { allowed_hosts: ['Gateway-Admin.internal'] },
    // The decision test below speaks for a front door on loopback.
    proxy: { trusted_proxies: ['127.0.0.1/32'] },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' }],
  }));
  port = new URL(stack.gw.adminUrl).port;
});
after(() => stack.close());

function admin(method: string, path: string, host: string): Promise<string> {
  return rawRequest(stack.gw.adminUrl, [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close']);
}

test('a DNS name that is not configured gets 421 on health, metrics and purge', async () => {
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, 'gateway-admin.internal.evil.example']) {
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['GET', '/health/alive'],
      ['DELETE', '/sessions/cache/identities/x'],
    ] as const) {
      const raw = await admin(method, path, host);
      assert.match(raw, /^HTTP\/1\.1 421 /, `${method} ${path} with Host ${host}: ${raw.slice(0, 40)}`);
      assert.match(raw, /"code":421/);
    }
  }
});

test('a rebinding request purges nothing', async () => {
  const { token, identityId } = stack.kratos.addSession();
  const ok = await rawRequest(stack.gw.proxyUrl, ['GET /x HTTP/1.1', 'Host: app.test', `X-Session-Token: ${token}`, 'Connection: close']);
  assert.match(ok, /^HTTP\/1\.1 200 /);
  const refused = await admin('DELETE', `/sessions/cache/identities/${identityId}`, 'evil.example');
  assert.match(refused, /^HTTP\/1\.1 421 /);
  const purged = await admin('DELETE', `/sessions/cache/identities/${identityId}`, `127.0.0.1:${port}`);
  assert.match(purged, /"purged":1/, 'the cached session was still there for the legitimate purge');
});

test('IP literals, localhost and configured names are answered, with or without the port', async () => {
  for (const host of [
    `127.0.0.1:${port}`,
    '127.0.0.1',
    '10.244.3.17:4456',
    `[::1]:${port}`,
    '[fd00:10:244::5]',
    'localhost',
    `LOCALHOST:${port}`,
    'gateway-admin.internal',
    `GATEWAY-ADMIN.internal:${port}`,
  ]) {
    const raw = await admin('GET', '/health/alive', host);
    assert.match(raw, /^HTTP\/1\.1 200 /, `Host ${host}: ${raw.slice(0, 40)}`);
  }
  assert.match(await admin('GET', '/metrics', `10.244.3.17:${port}`), /kratos_gateway_requests_total/);
});

test('the decision API answers whatever Host the forward-auth proxy sends', async () => {
  const raw = await rawRequest(stack.gw.adminUrl, [
    'GET /decisions/x HTTP/1.1',
    'Host: app.example.com',
    'X-Original-URI: /x',
    'X-Original-Method: GET',
    'Accept: application/json',
    'Connection: close',
  ]);
  assert.match(raw, /^HTTP\/1\.1 401 /);
});
