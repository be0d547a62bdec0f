/**
 * Purging through the mount, end to end, with the embedded identity server as the real IdP behind the mount:
 * after any request through the mount, however its path is spelled, the gateway's view of a
 * credential agrees with the identity server's (asked directly, bypassing the gateway's
 * cache): a revoked token is rejected on the very next request, changed traits are injected
 * on the very next request. A redirect the identity server answers instead (trailing slash)
 * is followed through the mount, as a browser would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startEchoUpstream, startTestGateway } from '../../helpers/servers.js';
import { registerWithApi } from '../identity/helpers.js';
import { startEmbeddedMount } from './embedded-mount.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const PASSWORD = 'correct horse battery staple 9';
/**
 * Short, so a settings change of the login email needs re-authentication after a wait; long
 * enough that a loaded machine still resumes the paused update (and makes the other settings
 * changes) within the privileged window a fresh login opens.
 */
const PRIVILEGED_MS = 10_000;

describe('Kratos mount purging, whatever the spelling (embedded identity server)', () => {
  let upstream: Echo;
  let gw: Gateway;
  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, gw, close } = await startEmbeddedMount('mount-spellings', {
      privilegedSessionMaxAgeMs: PRIVILEGED_MS,
      identityHeaders: { 'X-User-Email': 'identity.traits.email', 'X-User-First-Name': 'identity.traits.name.first' },
    }));
  });
  after(() => close());

  const mount = () => gw.proxyUrl + '/.ory/kratos/public';

  const registerApi = (email: string) => registerWithApi(mount(), email, PASSWORD);

  interface View {
    status: number;
    email?: string;
    first?: string;
  }

  /** What the gateway does with these credentials: status and the injected traits. */
  async function viaGateway(headers: Record<string, string>): Promise<View> {
    const res = await request(gw.proxyUrl + '/app', { headers: { accept: 'application/json', ...headers } });
    await res.body.dump();
    if (res.statusCode !== 200) return { status: res.statusCode };
    const injected = upstream.received.at(-1)!.headers;
    const first = injected['x-user-first-name'] as string | undefined;
    return { status: 200, email: injected['x-user-email'] as string, ...(first !== undefined ? { first } : {}) };
  }

  /** What the identity server itself says about these credentials, past the gateway's cache. */
  async function atIdentityServer(headers: Record<string, string>): Promise<View> {
    const res = await request(gw.kratosPublicUrl + '/sessions/whoami', { headers });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return { status: res.statusCode };
    }
    const { traits } = ((await res.body.json()) as { identity: { traits: { email: string; name?: { first?: string } } } }).identity;
    return { status: 200, email: traits.email, ...(traits.name?.first !== undefined ? { first: traits.name.first } : {}) };
  }

  async function assertAgree(headers: Record<string, string>, what: string): Promise<View> {
    const truth = await atIdentityServer(headers);
    assert.deepEqual(await viaGateway(headers), truth, `${what}: the gateway disagrees with the identity server`);
    return truth;
  }

  async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
    const res = await request(mount() + path, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
    await res.body.dump();
    return { status: res.statusCode, location: typeof res.headers.location === 'string' ? res.headers.location : undefined };
  }

  test('HEAD logout with a Bearer token: the revoked token is rejected on the next request', async () => {
    const token = await registerApi(`head-${Date.now()}@example.com`);
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await viaGateway(bearer)).status, 200);
    await send('HEAD', '/self-service/browser/flows/logout', bearer);
    assert.equal((await assertAgree(bearer, 'after HEAD logout')).status, 401, 'HEAD logout revoked the session');
  });

  test('logout with a trailing slash: gateway and identity server agree, and following the redirect logs out', async () => {
    const token = await registerApi(`slash-${Date.now()}@example.com`);
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await viaGateway(bearer)).status, 200);
    const query = `?return_to=${encodeURIComponent(gw.proxyUrl + '/app')}`;
    const first = await send('GET', `/self-service/browser/flows/logout/${query}`, bearer);
    await assertAgree(bearer, 'after the trailing-slash logout');
    // The identity server routes like Kratos: a redirect to the route, moved onto the mount.
    assert.equal(first.status, 301);
    assert.equal(first.location, `/.ory/kratos/public/self-service/browser/flows/logout${query}`, 'redirected onto the mount, query kept');
    assert.equal((await send('GET', first.location!.slice('/.ory/kratos/public'.length), bearer)).status, 302);
    assert.equal((await assertAgree(bearer, 'after the logout')).status, 401);
  });

  test('logout spelled with a capital L: gateway and identity server agree', async () => {
    const token = await registerApi(`capital-${Date.now()}@example.com`);
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await viaGateway(bearer)).status, 200);
    await send('GET', '/self-service/browser/flows/Logout', bearer);
    await assertAgree(bearer, 'after /Logout');
  });

  test('DELETE /SESSIONS with the token in the body: gateway and identity server agree', async () => {
    const token = await registerApi(`upper-${Date.now()}@example.com`);
    assert.equal((await viaGateway({ 'x-session-token': token })).status, 200);
    await send('DELETE', '/SESSIONS', { 'content-type': 'application/json' }, JSON.stringify({ session_token: token }));
    await assertAgree({ 'x-session-token': token }, 'after DELETE /SESSIONS');
  });

  test('POST /Self-Service/Settings: the injected traits agree with the identity server on the next request', async () => {
    const email = `settings-${Date.now()}@example.com`;
    const token = await registerApi(email);
    const auth = { 'x-session-token': token };
    assert.equal((await viaGateway(auth)).email, email);
    const init = await request(mount() + '/self-service/settings/api', { headers: auth });
    const flow = (await init.body.json()) as { id: string };
    await send(
      'POST',
      `/Self-Service/Settings?flow=${flow.id}`,
      { ...auth, 'content-type': 'application/json', accept: 'application/json' },
      JSON.stringify({ method: 'profile', traits: { email, name: { first: 'Ada' } } }),
    );
    await assertAgree(auth, 'after POST /Self-Service/Settings');
  });

  test('a settings update resumed after re-login (GET /self-service/settings?flow=) reaches the upstream on the next request', async () => {
    const jar = new Map<string, string>();
    const cookie = () => ({ cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') });
    const remember = (setCookie: string | string[] | undefined) => {
      for (const c of ([] as string[]).concat(setCookie ?? [])) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const browser = async (method: string, path: string, form?: Record<string, string>) => {
      const res = await request(mount() + path, {
        method: method as 'GET',
        headers: { ...cookie(), accept: 'text/html', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      await res.body.dump();
      remember(res.headers['set-cookie']);
      return { status: res.statusCode, location: String(res.headers.location ?? '') };
    };
    const flowOf = async (kind: string, location: string) => {
      const id = new URL(location, gw.proxyUrl).searchParams.get('flow')!;
      const res = await request(mount() + `/self-service/${kind}/flows?id=${id}`, { headers: { ...cookie(), accept: 'application/json' } });
      const flow = (await res.body.json()) as { ui: { nodes: Array<{ attributes: { name: string; value?: string } }> } };
      return { id, csrf: flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token')!.attributes.value! };
    };

    const oldEmail = `paused-${Date.now()}@example.com`;
    const newEmail = `resumed-${Date.now()}@example.com`;
    const reg = await flowOf('registration', (await browser('GET', '/self-service/registration/browser')).location);
    assert.equal(
      (
        await browser('POST', `/self-service/registration?flow=${reg.id}`, {
          csrf_token: reg.csrf,
          method: 'password',
          password: PASSWORD,
          'traits.email': oldEmail,
        })
      ).status,
      302,
    );
    assert.equal((await viaGateway(cookie())).email, oldEmail);

    // The session is now too old to change the login email: the update is paused.
    await sleep(PRIVILEGED_MS + 200);
    const settings = await flowOf('settings', (await browser('GET', '/self-service/settings/browser')).location);
    const paused = await browser('POST', `/self-service/settings?flow=${settings.id}`, {
      csrf_token: settings.csrf,
      method: 'profile',
      'traits.email': newEmail,
    });
    assert.equal(paused.status, 302);
    assert.match(paused.location, /\/self-service\/login\/browser\?refresh=true/);

    // Re-login, then let the gateway cache the new session with the old traits.
    const login = await flowOf('login', (await browser('GET', '/self-service/login/browser?refresh=true')).location);
    assert.equal(
      (
        await browser('POST', `/self-service/login?flow=${login.id}`, {
          csrf_token: login.csrf,
          method: 'password',
          password_identifier: oldEmail,
          password: PASSWORD,
        })
      ).status,
      302,
    );
    assert.equal((await viaGateway(cookie())).email, oldEmail);

    // The browser follows return_to: the paused update resumes on a GET.
    await browser('GET', `/self-service/settings?flow=${settings.id}`);
    assert.equal((await atIdentityServer(cookie())).email, newEmail, 'the paused update resumed');
    assert.equal((await viaGateway(cookie())).email, newEmail, 'the old traits were still injected');
  });

  test('read-only operations through the mount keep the cache', async () => {
    const token = await registerApi(`readonly-${Date.now()}@example.com`);
    const auth = { 'x-session-token': token };
    assert.equal((await viaGateway(auth)).status, 200);
    const whoamiBefore = await whoamiCount();
    for (const path of ['/sessions/whoami', '/self-service/login/api?refresh=true', '/schemas/default', '/health/ready']) {
      await send('GET', path, auth);
      assert.equal((await viaGateway(auth)).status, 200);
    }
    // Only the forwarded whoami itself reached the identity server's whoami, not the gateway's.
    assert.equal(await whoamiCount(), whoamiBefore, 'a read-only operation purged the cache');
  });

  /** The gateway's own whoami calls to Kratos, from its metrics. */
  async function whoamiCount(): Promise<number> {
    const res = await request(gw.adminUrl + '/metrics');
    const text = await res.body.text();
    let total = 0;
    for (const m of text.matchAll(/^kratos_gateway_whoami_requests_total\{[^}]*\} (\d+)$/gm)) total += Number(m[1]);
    return total;
  }
});
