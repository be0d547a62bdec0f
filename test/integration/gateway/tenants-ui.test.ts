/**
 * The self-service UI (on by default) with kratos_instances: on an instance's host its pages
 * are that instance's Kratos's flows. Read from the top-level Kratos instead, a tenant's flow
 * is unknown there, the browser is sent to the top-level Kratos's login on the top-level host
 * (signing in at the wrong Kratos), and the tenant's cookies (its session) are sent to a Kratos
 * they do not belong to; its logout link ends no session of the tenant's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { listenOnFreePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';
import { loginFlowV06 } from '../../unit/ui/fixtures.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

/** A Kratos that records what the UI asks it, and knows one login flow and one logout URL of its own. */
async function recordingKratos(flowId: string, logoutUrl: string) {
  const seen: Array<{ path: string; cookie: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://k');
    seen.push({ path: u.pathname, cookie: req.headers.cookie });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/self-service/login/flows' && u.searchParams.get('id') === flowId) return json(200, loginFlowV06());
    if (u.pathname === '/self-service/logout/browser') return json(200, { logout_url: logoutUrl });
    json(404, { error: { code: 404, message: 'not found' } });
  });
  const url = await listenOnFreePort(server);
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('kratos_instances: the self-service UI on an instance host is that instance Kratos', () => {
  let top: Awaited<ReturnType<typeof recordingKratos>>;
  let acme: Awaited<ReturnType<typeof recordingKratos>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Gateway;

  before(async () => {
    [top, acme, upstream] = await Promise.all([
      recordingKratos('top-flow', 'http://gateway.test/.ory/kratos/public/self-service/logout?token=top'),
      recordingKratos('acme-flow', 'http://a.test/.ory/kratos/public/self-service/logout?token=acme'),
      startEchoUpstream(),
    ]);
    gw = await startTestGateway({
      kratos: { public_url: top.url },
      kratos_instances: { acme: { public_url: acme.url, hosts: ['a.test'], session_cookie: 'acme_session' } },
      proxy: { public_base_url: 'http://gateway.test' },
      ui: { enabled: true },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
  });
  after(async () => {
    await gw.shutdown();
    await Promise.all([top.close(), acme.close(), upstream.close()]);
  });

  async function page(host: string, path: string, cookie?: string) {
    const res = await request(gw.proxyUrl + path, {
      headers: { host, accept: 'text/html', ...(cookie === undefined ? {} : { cookie }) },
    });
    const body = await res.body.text();
    return { status: res.statusCode, location: res.headers.location as string | undefined, body };
  }

  test("an instance's flow is read from its Kratos, with its cookies going nowhere else", async () => {
    top.seen.length = 0;
    acme.seen.length = 0;
    const r = await page('a.test', '/ui/login?flow=acme-flow', 'acme_session=secret-acme; csrf=c');
    assert.equal(r.status, 200, `rendered, not restarted (Location: ${r.location})`);
    assert.deepEqual(
      acme.seen.map((s) => s.path),
      ['/self-service/login/flows'],
    );
    assert.equal(acme.seen[0]!.cookie, 'acme_session=secret-acme; csrf=c');
    assert.deepEqual(top.seen, [], "the top-level Kratos never sees the tenant's request or its cookies");
  });

  test("a new flow starts at the instance's login on its own host, never on the top-level origin", async () => {
    const r = await page('a.test', '/ui/login?return_to=http%3A%2F%2Fa.test%2Fdash');
    assert.equal(r.status, 302);
    const location = new URL(r.location!, 'http://a.test');
    assert.equal(location.host, 'a.test', `Location: ${r.location}`);
    assert.equal(location.pathname, '/.ory/kratos/public/self-service/login/browser');
  });

  test("the logout link asks the instance's Kratos and ends the instance's session", async () => {
    top.seen.length = 0;
    acme.seen.length = 0;
    const r = await page('a.test', '/ui/logout', 'acme_session=secret-acme');
    assert.equal(r.status, 302);
    assert.equal(r.location, 'http://a.test/.ory/kratos/public/self-service/logout?token=acme');
    assert.deepEqual(top.seen, []);
  });

  test('the top-level host keeps the top-level Kratos UI', async () => {
    top.seen.length = 0;
    acme.seen.length = 0;
    assert.equal((await page('gateway.test', '/ui/login?flow=top-flow')).status, 200);
    const fresh = await page('gateway.test', '/ui/login');
    assert.equal(fresh.location, 'http://gateway.test/.ory/kratos/public/self-service/login/browser');
    assert.deepEqual(acme.seen, []);
  });
});
