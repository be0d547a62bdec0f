/**
 * A stage that throws (here a registered authorizer with a bug) fails closed on every
 * transport — 500, nothing forwarded — and the failed request is still observed exactly once:
 * one access line with its request id and status 500, one count in
 * kratos_gateway_requests_total. Before, such a request left no access line and no metric,
 * so a caller able to trigger the fault was invisible in both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import WebSocket from 'ws';
import { authorizerRegistry } from '../../../src/gateway/pipeline/authz/index.js';
import { throwOnBoomPath } from '../../fixtures/stages/throwing-authorizer.js';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const registered = () => throwOnBoomPath;

describe('a stage that throws', () => {
  let kratos: Kratos;
  let upstream: Echo;
  let gw: Gateway;

  before(async () => {
    authorizerRegistry.push(registered);
    kratos = await startFakeKratos();
    upstream = await startEchoUpstream();
    const routes = [
      { name: 'public', match: { path_prefix: '/public' }, upstream: upstream.url, auth: 'anonymous', websocket: true },
      { name: 'app', match: { path_prefix: '/app' }, upstream: upstream.url, auth: 'required', websocket: true },
    ];
    gw = await startTestGateway({ kratos: { public_url: kratos.url }, routes, proxy: { shutdown_grace_ms: 200 } });
  });
  after(async () => {
    authorizerRegistry.splice(authorizerRegistry.indexOf(registered), 1);
    await gw.shutdown();
    await kratos.close();
    await upstream.close();
  });

  function accessLines(requestId: string): Array<Record<string, unknown>> {
    return gw.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.reqId === requestId && typeof l.status === 'number');
  }

  /**
   * The access lines for a request once the first has been written (waited for up to 30 s: a
   * busy machine may write it after the client has the answer), and 50 ms more for a second one.
   */
  async function settledLines(requestId: string): Promise<Array<Record<string, unknown>>> {
    for (let n = 0; n < 3000 && accessLines(requestId).length === 0; n++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    return accessLines(requestId);
  }

  async function failures(): Promise<number> {
    const text = await (await request(gw.adminUrl + '/metrics')).body.text();
    let n = 0;
    for (const m of text.matchAll(/^kratos_gateway_requests_total\{[^}]*status="500"[^}]*\} (\d+)$/gm)) n += Number(m[1]);
    return n;
  }

  test('HTTP, anonymous and authenticated: 500, not forwarded, observed once', async () => {
    const s = kratos.addSession();
    for (const [i, path] of ['/public/boom', '/app/boom'].entries()) {
      const counted = await failures();
      const id = `stage-failure-http-${i}`;
      const res = await request(gw.proxyUrl + path, { headers: { authorization: `Bearer ${s.token}`, 'x-request-id': id } });
      await res.body.text();
      assert.equal(res.statusCode, 500);
      assert.ok(!upstream.received.some((r) => r.url === path), 'never forwarded');
      const lines = await settledLines(id);
      assert.equal(lines.length, 1, `one access line for ${path}: ${JSON.stringify(lines)}`);
      assert.equal(lines[0]!.status, 500);
      assert.equal(await failures(), counted + 1);
    }
  });

  test('WebSocket handshake: 500, not upgraded, observed once', async () => {
    const counted = await failures();
    const id = 'stage-failure-ws';
    const status = await new Promise<number | string>((resolve) => {
      const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/public/boom', { headers: { 'x-request-id': id } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve('open'));
      ws.on('error', (e) => resolve(e.message));
    });
    assert.equal(status, 500);
    assert.equal((await settledLines(id)).length, 1);
    assert.equal(await failures(), counted + 1);
  });

  test('decision API: 500, observed once', async () => {
    const s = kratos.addSession();
    const counted = await failures();
    const id = 'stage-failure-decision';
    const res = await request(gw.adminUrl + '/decisions/app/boom', { headers: { authorization: `Bearer ${s.token}`, 'x-request-id': id } });
    await res.body.text();
    assert.equal(res.statusCode, 500);
    const lines = await settledLines(id);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.decision, true);
    assert.equal(await failures(), counted + 1);
  });
});
