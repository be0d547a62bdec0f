/**
 * The login redirect on an instance's host is built from the request's Host (tenant-login.ts).
 * A Host whose port is no port (out of range) still matches the instance's host name: the
 * browser is sent to that host's login, never an error page and an error line with a stack
 * per request (anyone can send such a Host, as often as they like).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

describe('kratos_instances: the login redirect for an odd Host port', () => {
  let top: Awaited<ReturnType<typeof startFakeKratos>>;
  let acme: Awaited<ReturnType<typeof startFakeKratos>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    [top, acme, upstream] = await Promise.all([startFakeKratos(), startFakeKratos(), startEchoUpstream()]);
    gw = await startTestGateway({
      kratos: { public_url: top.url },
      kratos_instances: { acme: { public_url: acme.url, hosts: ['a.test', '*.w.test'] } },
      proxy: { public_base_url: 'https://gateway.test' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
  });
  after(async () => {
    await gw.shutdown();
    await Promise.all([top.close(), acme.close(), upstream.close()]);
  });

  async function login(host: string) {
    const res = await request(gw.proxyUrl + '/dash', { headers: { host, accept: 'text/html' } });
    await res.body.dump();
    return { status: res.statusCode, location: res.headers.location as string | undefined };
  }

  test('a valid port is kept; an out-of-range one is left out, and the browser still goes to that host', async () => {
    assert.deepEqual(await login('a.test:8443'), {
      status: 302,
      location: 'https://a.test:8443/.ory/kratos/public/self-service/login/browser?return_to=https%3A%2F%2Fa.test%3A8443%2Fdash',
    });
    const odd = await login('a.test:99999');
    assert.equal(odd.status, 302);
    assert.equal(odd.location, 'https://a.test/.ory/kratos/public/self-service/login/browser?return_to=https%3A%2F%2Fa.test%2Fdash');
    assert.equal(gw.logLines.filter((l) => l.includes('unexpected error')).length, 0);
  });

  test('a Host that is no host name never matches a wildcard: the login URL is never built on another origin', async () => {
    assert.equal((await login('x.w.test')).location?.startsWith('https://x.w.test/.ory/kratos/public/'), true);
    for (const host of ['evil.example/.w.test', 'evil.example?.w.test', 'evil.example#.w.test', 'evil.example\\.w.test']) {
      const r = await login(host);
      assert.equal(r.status, 302, host);
      assert.equal(new URL(r.location!).host, 'gateway.test', `${host} → ${r.location}`);
    }
  });
});
