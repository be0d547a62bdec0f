/**
 * Extension points: adding a stage is one new file plus one registry line. A test-only mutator
 * (test/fixtures/stages/tenant-header.ts) is registered here and nowhere else; the header it
 * declares is stripped from callers on every route and outcome — forwarded, refused, handed
 * to the control plane, upgraded, decided — in any spelling, with no other edit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import WebSocket from 'ws';
import { mutatorRegistry } from '../../../src/gateway/pipeline/mutators/index.js';
import { authorizerRegistry } from '../../../src/gateway/pipeline/authz/index.js';
import { tenantHeader } from '../../fixtures/stages/tenant-header.js';
import { denyForbiddenPath } from '../../fixtures/stages/deny-path.js';
import { startEchoUpstream, startFakeKratos, startTestGateway, type EchoRecord } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const SPOOFS = { 'x-test-tenant': 'evil', X_Test_Tenant: 'evil-underscore' };

function tenantValues(headers: Record<string, unknown>): unknown[] {
  return Object.entries(headers)
    .filter(([name]) => name.toLowerCase().replaceAll('_', '-') === 'x-test-tenant')
    .map(([, v]) => v);
}

const registeredMutator = () => tenantHeader;
const registeredAuthorizer = () => denyForbiddenPath;

describe('extension points: a registered test-only mutator and authorizer', () => {
  let kratos: Kratos;
  let upstream: Echo;
  let controlUpstream: Echo;
  let gw: Gateway;
  let control: Gateway;

  before(async () => {
    // The registry lines.
    mutatorRegistry.push(registeredMutator);
    authorizerRegistry.push(registeredAuthorizer);
    kratos = await startFakeKratos();
    upstream = await startEchoUpstream();
    controlUpstream = await startEchoUpstream();
    const routes = [
      { name: 'public', match: { path_prefix: '/public' }, upstream: upstream.url, auth: 'anonymous', websocket: true },
      { name: 'maybe', match: { path_prefix: '/maybe' }, upstream: upstream.url, auth: 'optional' },
      { name: 'app', match: { path_prefix: '/app' }, upstream: upstream.url, auth: 'required', websocket: true },
    ];
    gw = await startTestGateway({ kratos: { public_url: kratos.url }, routes, proxy: { shutdown_grace_ms: 200 } });
    // The Kratos mount forwards to "Kratos": an echo server here, to see what it was sent.
    control = await startTestGateway({ kratos: { public_url: controlUpstream.url }, routes: [routes[0]] });
  });
  after(async () => {
    mutatorRegistry.splice(mutatorRegistry.indexOf(registeredMutator), 1);
    authorizerRegistry.splice(authorizerRegistry.indexOf(registeredAuthorizer), 1);
    await gw.shutdown();
    await control.shutdown();
    await kratos.close();
    await upstream.close();
    await controlUpstream.close();
  });

  async function viaProxy(g: Gateway, path: string, headers: Record<string, string>) {
    const before = upstream.received.length;
    const res = await request(g.proxyUrl + path, { headers: { ...SPOOFS, ...headers } });
    const text = await res.body.text();
    const forwarded: EchoRecord | undefined = upstream.received[before];
    return { status: res.statusCode, text, forwarded };
  }

  test('the declared header is protected and injected: derived, not listed anywhere else', () => {
    assert.ok(gw.core.snapshot.protectedHeaderNames.has('x-test-tenant'));
    assert.ok(gw.core.snapshot.injectedHeaderNames.has('x-test-tenant'));
  });

  test('anonymous route: forwarded without the caller’s value', async () => {
    const r = await viaProxy(gw, '/public/x', {});
    assert.equal(r.status, 200);
    assert.deepEqual(tenantValues(r.forwarded!.headers), []);
  });

  test('required route, authenticated: only the mutator’s value reaches the upstream', async () => {
    const s = kratos.addSession();
    const r = await viaProxy(gw, '/app/x', { authorization: `Bearer ${s.token}` });
    assert.equal(r.status, 200);
    assert.deepEqual(tenantValues(r.forwarded!.headers), [`tenant-of-${s.identityId}`]);
  });

  test('optional route with an invalid credential: forwarded anonymous, no value', async () => {
    const r = await viaProxy(gw, '/maybe/x', { authorization: 'Bearer nope' });
    assert.equal(r.status, 200);
    assert.deepEqual(tenantValues(r.forwarded!.headers), []);
  });

  test('refusals (401, 404, 403 from the test authorizer) forward nothing', async () => {
    assert.equal((await viaProxy(gw, '/app/refused', {})).status, 401);
    assert.equal((await viaProxy(gw, '/nowhere', {})).status, 404);
    const s = kratos.addSession();
    const forbidden = await viaProxy(gw, '/app/forbidden', { authorization: `Bearer ${s.token}` });
    assert.equal(forbidden.status, 403, 'the registered authorizer refuses');
    assert.match(forbidden.text, /This path is forbidden/);
    for (const path of ['/app/refused', '/nowhere', '/app/forbidden']) assert.ok(!upstream.received.some((r) => r.url === path));
  });

  test('control plane: the Kratos mount is not sent the caller’s value', async () => {
    const before = controlUpstream.received.length;
    const res = await request(control.proxyUrl + '/.ory/kratos/public/self-service/login/browser', { headers: SPOOFS });
    await res.body.text();
    const sent = controlUpstream.received[before];
    assert.ok(sent, 'the mount forwarded the request');
    assert.deepEqual(tenantValues(sent.headers), []);
  });

  test('WebSocket: the handshake reaches the upstream without the caller’s value, with the mutator’s', async () => {
    const s = kratos.addSession();
    const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/app/socket', {
        headers: { ...SPOOFS, authorization: `Bearer ${s.token}` },
      });
      ws.once('message', (m) => {
        resolve(JSON.parse(String(m)).headers);
        ws.close();
      });
      ws.once('error', reject);
    });
    assert.deepEqual(tenantValues(seen), [`tenant-of-${s.identityId}`]);
  });

  test('decision API: the caller’s value is not echoed back as a header to trust', async () => {
    const s = kratos.addSession();
    const res = await request(gw.adminUrl + '/decisions/app/x', { headers: { ...SPOOFS, authorization: `Bearer ${s.token}` } });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.deepEqual(tenantValues(res.headers as Record<string, unknown>), []);
  });
});
