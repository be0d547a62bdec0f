import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { embeddedKratos, freePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

interface Flow {
  id: string;
  ui: { action: string };
}

/**
 * The gateway in front of the real embedded identity server: flows through the mount,
 * Location rewriting, and logout/revocation purging the cache before the response.
 */
describe('Kratos public API mount with the embedded identity server', () => {
  let upstream: Echo;
  let gw: Gateway;

  before(async () => {
    upstream = await startEchoUpstream();
    const port = await freePort();
    gw = await startTestGateway({
      proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
      embedded_kratos: embeddedKratos(),
      session_cache: { ttl_cap_ms: 600_000 },
      identity_headers: { 'X-User-First-Name': 'identity.traits.name.first' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  const mount = () => gw.proxyUrl + '/.ory/kratos/public';

  async function register(email: string): Promise<{ token: string; identityId: string }> {
    const init = await request(mount() + '/self-service/registration/api', { headers: { accept: 'application/json' } });
    assert.equal(init.statusCode, 200);
    const flow = (await init.body.json()) as Flow;
    const submit = await request(mount() + `/self-service/registration?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'password', password: 'correct horse battery staple 9', traits: { email } }),
    });
    const body = (await submit.body.json()) as { session_token: string; identity: { id: string } };
    assert.equal(submit.statusCode, 200, JSON.stringify(body));
    return { token: body.session_token, identityId: body.identity.id };
  }

  async function statusWith(headers: Record<string, string>): Promise<number> {
    const res = await request(gw.proxyUrl + '/app', { headers: { accept: 'application/json', ...headers } });
    await res.body.dump();
    return res.statusCode;
  }

  test('flows created through the mount point their actions at the mount', async () => {
    const res = await request(mount() + '/self-service/login/api');
    const flow = (await res.body.json()) as Flow;
    assert.equal(res.statusCode, 200);
    assert.ok(flow.ui.action.startsWith(mount() + '/self-service/login?flow='), flow.ui.action);
  });

  test('browser init redirects are relative to the mount, never to the internal Kratos address', async () => {
    const res = await request(mount() + '/self-service/login/browser', { headers: { accept: 'text/html' } });
    await res.body.dump();
    assert.equal(res.statusCode, 302);
    const location = String(res.headers.location);
    assert.ok(!location.includes(new URL(gw.kratosPublicUrl).host), location);
    assert.match(location, /\/ui\/login\?flow=/);
  });

  test('a session revoked with DELETE /sessions through the mount is rejected on the very next request', async () => {
    const { token, identityId } = await register(`revoke-${Date.now()}@example.com`);
    assert.equal(await statusWith({ 'x-session-token': token }), 200);
    assert.equal(await statusWith({ authorization: `Bearer ${token}` }), 200);
    assert.equal(upstream.received.at(-1)!.headers['x-kratos-authenticated-identity-id'], identityId);
    const revoke = await request(mount() + '/sessions', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_token: token }),
    });
    await revoke.body.dump();
    assert.equal(revoke.statusCode, 204);
    assert.equal(await statusWith({ 'x-session-token': token }), 401);
    assert.equal(await statusWith({ authorization: `Bearer ${token}` }), 401);
  });

  test('whoami through the mount and directly agree, and the cache serves repeat requests', async () => {
    const { token, identityId } = await register(`whoami-${Date.now()}@example.com`);
    const res = await request(mount() + '/sessions/whoami', { headers: { 'x-session-token': token } });
    const session = (await res.body.json()) as { identity: { id: string } };
    assert.equal(res.statusCode, 200);
    assert.equal(session.identity.id, identityId);
    assert.equal(res.headers['x-kratos-authenticated-identity-id'], identityId);
  });
  test('a browser logout through the mount purges the cached cookie session before the redirect reaches the client', async () => {
    const jar = new Map<string, string>();
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const remember = (setCookie: string | string[] | undefined) => {
      for (const c of ([] as string[]).concat(setCookie ?? [])) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const init = await request(mount() + '/self-service/registration/browser', { headers: { accept: 'text/html' } });
    await init.body.dump();
    remember(init.headers['set-cookie']);
    const flowId = new URL(String(init.headers.location)).searchParams.get('flow')!;
    const flowRes = await request(mount() + `/self-service/registration/flows?id=${flowId}`, { headers: { cookie: cookieHeader() } });
    const flow = (await flowRes.body.json()) as { ui: { nodes: Array<{ attributes: { name: string; value?: string } }> } };
    const csrf = flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token')!.attributes.value!;
    const form = new URLSearchParams({
      csrf_token: csrf,
      method: 'password',
      password: 'another good passphrase 7',
      'traits.email': `browser-${Date.now()}@example.com`,
    });
    const submit = await request(mount() + `/self-service/registration?flow=${flowId}`, {
      method: 'POST',
      headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: form.toString(),
    });
    await submit.body.dump();
    assert.equal(submit.statusCode, 302);
    remember(submit.headers['set-cookie']);
    assert.ok(jar.has('ory_kratos_session'), 'registration signed the browser in');

    assert.equal(await statusWith({ cookie: cookieHeader() }), 200);
    const logout = await request(mount() + '/self-service/browser/flows/logout', {
      headers: { cookie: cookieHeader(), accept: 'text/html' },
    });
    await logout.body.dump();
    assert.equal(logout.statusCode, 302);
    // The very next request with the old cookie is rejected: the cache entry was purged.
    assert.equal(await statusWith({ cookie: cookieHeader() }), 401);
  });
  test('a profile change through the mount reaches the upstream on the next request, despite the cache', async () => {
    const email = `profile-${Date.now()}@example.com`;
    const { token } = await register(email);
    assert.equal(await statusWith({ 'x-session-token': token }), 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-first-name'], undefined);
    const init = await request(mount() + '/self-service/settings/api', { headers: { 'x-session-token': token } });
    const flow = (await init.body.json()) as Flow;
    assert.equal(init.statusCode, 200);
    const submit = await request(mount() + `/self-service/settings?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'x-session-token': token, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'profile', traits: { email, name: { first: 'Grace' } } }),
    });
    await submit.body.dump();
    assert.equal(submit.statusCode, 200);
    assert.equal(await statusWith({ 'x-session-token': token }), 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-first-name'], 'Grace');
  });
});
