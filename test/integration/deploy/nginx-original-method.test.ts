/**
 * nginx's auth_request subrequest is always a GET, whatever the client sent: only
 * `X-Original-Method` tells the decision API the original method. With real nginx:
 * - the shipped example sends it, so a POST to a GET-only route is refused;
 * - the example without that line: the gateway must not guess. Where the method could change
 *   the answer it answers 400, which auth_request treats as an error (500 to the client); it
 *   used to decide as if every request were a GET and let the POST through;
 * - nginx not in proxy.trusted_proxies: its X-Original-* are refused (400), so nothing passes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { memoryLogger, startEchoUpstream, startFakeKratos, testConfig } from '../../helpers/servers.js';
import { exampleConfig, NGINX_EXAMPLE, replaceOnce, send, startNginx, type RunningNginx } from './nginx.js';

const METHOD_LINE = '        proxy_set_header X-Original-Method $request_method;\n';

describe('nginx auth_request and the original method', () => {
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gateway: RunningGateway;
  let shipped: RunningNginx;
  let withoutMethod: RunningNginx;
  let distrusting: RunningGateway;
  let untrustedNginx: RunningNginx;

  before(async () => {
    kratos = await startFakeKratos();
    upstream = await startEchoUpstream();
    const config = (trusted_proxies: string[]) => ({
      // nginx runs on loopback; its X-Original-* are believed only from proxy.trusted_proxies.
      proxy: { public_base_url: 'https://app.example.com', trusted_proxies },
      kratos: { public_url: kratos.url },
      routes: [
        // Reading the feed is public; nothing else may be done to it.
        { name: 'feed', match: { path_prefix: '/feed', methods: ['GET', 'HEAD'] }, upstream: upstream.url, auth: 'anonymous' },
        { name: 'public', match: { path_prefix: '/public' }, upstream: upstream.url, auth: 'anonymous' },
        // Anyone may post a comment; changing or deleting one needs a session.
        { name: 'comment-posts', match: { path_prefix: '/comments', methods: ['POST'] }, upstream: upstream.url, auth: 'anonymous' },
        { name: 'comments', match: { path_prefix: '/comments' }, upstream: upstream.url },
      ],
    });
    gateway = await startGateway(testConfig(config(['127.0.0.1/32'])), { logger: memoryLogger().logger });
    distrusting = await startGateway(testConfig(config(['10.0.0.0/8'])), { logger: memoryLogger().logger });
    untrustedNginx = await startNginx((port) => exampleConfig(NGINX_EXAMPLE, distrusting.adminUrl, upstream.url, port));
    shipped = await startNginx((port) => exampleConfig(NGINX_EXAMPLE, gateway.adminUrl, upstream.url, port));
    const stripped = replaceOnce(NGINX_EXAMPLE, METHOD_LINE, '');
    withoutMethod = await startNginx((port) => exampleConfig(stripped, gateway.adminUrl, upstream.url, port));
  });

  after(async () => {
    await untrustedNginx?.stop();
    await distrusting?.shutdown();
    await withoutMethod?.stop();
    await shipped?.stop();
    await gateway?.shutdown();
    await upstream?.close();
    await kratos?.close();
  });

  const reached = (method: string, path: string) => upstream.received.filter((r) => r.method === method && r.url === path);

  it('the shipped example: a GET to the GET-only route passes, a POST is refused and never reaches the upstream', async () => {
    const read = await send(shipped.url, '/feed/latest', { accept: 'application/json' });
    assert.equal(read.status, 200, shipped.errorLog());
    assert.equal(reached('GET', '/feed/latest').length, 1);
    const write = await send(shipped.url, '/feed/shipped-write', { accept: 'application/json' }, 'POST');
    assert.equal(write.status, 403, shipped.errorLog());
    assert.deepEqual(reached('POST', '/feed/shipped-write'), []);
  });

  it('without X-Original-Method: the gateway answers 400, nginx turns it into a 500, the POST never reaches the upstream', async () => {
    const write = await send(withoutMethod.url, '/feed/unnamed-write', { accept: 'application/json' }, 'POST');
    assert.equal(write.status, 500, withoutMethod.errorLog());
    assert.deepEqual(reached('POST', '/feed/unnamed-write'), []);
    assert.match(withoutMethod.errorLog(), /auth request unexpected status: 400/);
    // A GET is refused the same way: the gateway cannot tell it from a POST.
    assert.equal((await send(withoutMethod.url, '/feed/unnamed-read', { accept: 'application/json' })).status, 500);
  });

  it('without X-Original-Method: a route whose answer does not depend on the method is still decided', async () => {
    const write = await send(withoutMethod.url, '/public/form', { accept: 'application/json' }, 'POST');
    assert.equal(write.status, 200, withoutMethod.errorLog());
    assert.equal(reached('POST', '/public/form').length, 1);
  });

  it('a POST carrying a method override on a per-method route is refused: nginx would pass the header on to the upstream', async () => {
    // express method-override, Rack and Symfony serve this POST as a DELETE.
    const headers = { accept: 'application/json', 'x-http-method-override': 'DELETE' };
    const write = await send(shipped.url, '/comments/override', headers, 'POST');
    assert.equal(write.status, 500, shipped.errorLog());
    assert.deepEqual(reached('POST', '/comments/override'), []);
    // Without the header the anonymous POST is allowed, as configured.
    assert.equal((await send(shipped.url, '/comments/plain', { accept: 'application/json' }, 'POST')).status, 200);
  });

  it('nginx outside proxy.trusted_proxies: every decision is a 400, nginx answers 500, nothing reaches the upstream', async () => {
    for (const [method, path] of [
      ['GET', '/public/untrusted-read'],
      ['POST', '/feed/untrusted-write'],
    ] as const) {
      const res = await send(untrustedNginx.url, path, { accept: 'application/json' }, method);
      assert.equal(res.status, 500, untrustedNginx.errorLog());
      assert.deepEqual(reached(method, path), []);
    }
    assert.match(untrustedNginx.errorLog(), /auth request unexpected status: 400/);
  });
});
