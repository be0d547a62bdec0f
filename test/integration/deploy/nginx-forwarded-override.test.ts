/**
 * Review: with config/examples/nginx/auth_request.conf, nginx's auth subrequest carries every
 * header of the client's request. The decision API prefers X-Forwarded-Method/-Host/-Uri
 * (Traefik) over X-Original-URI when the peer is in proxy.trusted_proxies — and listing nginx
 * there is what an operator does to log the real client address. A client could then send
 * `X-Forwarded-Uri: /public/…` with a request for a protected path: the gateway decided on
 * the public route (200) and nginx proxied the protected request to the application without
 * any identity. The example now clears those headers in the decision subrequest.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { memoryLogger, startEchoUpstream, startFakeKratos, testConfig } from '../../helpers/servers.js';
import { exampleConfig, NGINX_EXAMPLE, startNginx, type RunningNginx } from './nginx.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gateway: RunningGateway;
let nginx: RunningNginx;

before(async () => {
  kratos = await startFakeKratos();
  upstream = await startEchoUpstream();
  gateway = await startGateway(
    testConfig({
      // nginx (on loopback) is trusted, e.g. so the gateway's access log shows client addresses.
      proxy: { public_base_url: 'https://app.example.com', trusted_proxies: ['127.0.0.1/32', '::1/128'] },
      kratos: { public_url: kratos.url },
      routes: [
        { name: 'public', match: { path_prefix: '/public' }, upstream: upstream.url, auth: 'anonymous' },
        { name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' },
      ],
    }),
    { logger: memoryLogger().logger },
  );
  nginx = await startNginx((port) => exampleConfig(NGINX_EXAMPLE, gateway.adminUrl, upstream.url, port));
});

after(async () => {
  await nginx?.stop();
  await gateway?.shutdown();
  await upstream?.close();
  await kratos?.close();
});

function get(path: string, headers: Record<string, string>): Promise<number> {
  const u = new URL(nginx.url);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path, headers: { connection: 'close', accept: 'application/json', ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const overrides: Array<[string, Record<string, string>]> = [
  ['X-Forwarded-Uri', { 'x-forwarded-uri': '/public/x' }],
  ['X-Forwarded-Uri and -Method', { 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET' }],
  [
    'X-Forwarded-Host, -Proto and -Uri',
    { 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-uri': '/public/x' },
  ],
];

for (const [name, headers] of overrides) {
  test(`a client's ${name} does not change what the decision API judges: a protected path stays 401`, async () => {
    const path = `/admin/secret-${name.length}-${Object.keys(headers).length}`;
    const status = await get(path, headers);
    assert.equal(status, 401, nginx.errorLog());
    assert.deepEqual(
      upstream.received.filter((r) => r.url === path).map((r) => r.url),
      [],
    );
  });
}

test('the public route still passes without a credential', async () => {
  assert.equal(await get('/public/page', {}), 200, nginx.errorLog());
});

/** The decision API directly, from a trusted peer (this test runs on loopback), as any nginx config would reach it. */
function decide(headers: Record<string, string>): Promise<number> {
  const u = new URL(gateway.adminUrl);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: '/decisions',
        headers: { connection: 'close', host: 'app.example.com', accept: 'application/json', ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test("without the example's header clearing: X-Original-URI with X-Forwarded-Uri is ambiguous, 400 (never the public route's 200)", async () => {
  assert.equal(await decide({ 'x-original-uri': '/admin/secret', 'x-original-method': 'GET', 'x-forwarded-uri': '/public/x' }), 400);
  assert.equal(await decide({ 'x-original-uri': '/admin/secret', 'x-forwarded-method': 'GET' }), 400);
});

test('X-Forwarded-Host/-Proto from a balancer in front of nginx do not replace X-Original-URI', async () => {
  assert.equal(await decide({ 'x-original-uri': '/public/x', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com' }), 200);
  assert.equal(await decide({ 'x-original-uri': '/admin/secret', 'x-forwarded-proto': 'https' }), 401);
});
