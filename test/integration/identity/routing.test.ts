/**
 * The embedded identity server routes like Kratos's router (julienschmidt/httprouter), not
 * like a lenient one: paths are case-sensitive, and a trailing-slash variant of a route is
 * answered with a redirect to the route (301 for GET; 307 for every other method, HEAD
 * included, as httprouter does), never served. A lenient server acted on spellings (a
 * `/Logout` that logged out) that nothing in front of it could anticipate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startTestServer, type TestServer } from './helpers.js';

let t: TestServer;

before(async () => {
  t = await startTestServer();
});
after(() => t.close());

async function registerApi(): Promise<string> {
  const init = await request(`${t.publicUrl}/self-service/registration/api`);
  const flow = (await init.body.json()) as { id: string };
  const res = await request(`${t.publicUrl}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      method: 'password',
      password: 'a-long-enough-passphrase',
      traits: { email: `routing-${Math.random()}@example.com` },
    }),
  });
  const body = (await res.body.json()) as { session_token: string };
  assert.equal(res.statusCode, 200, JSON.stringify(body));
  return body.session_token;
}

async function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await request(base + path, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  await res.body.dump();
  return { status: res.statusCode, location: res.headers.location };
}

async function active(token: string): Promise<boolean> {
  const res = await request(`${t.publicUrl}/sessions/whoami`, { headers: { 'x-session-token': token } });
  await res.body.dump();
  return res.statusCode === 200;
}

describe('case-sensitive paths', () => {
  it('answers a wrong-case logout with 404 and does not log out', async () => {
    const token = await registerApi();
    assert.equal((await send(t.publicUrl, 'GET', '/self-service/browser/flows/Logout', { authorization: `Bearer ${token}` })).status, 404);
    assert.ok(await active(token), 'the wrong-case logout revoked the session');
  });

  it('answers DELETE /SESSIONS with 404 and does not revoke', async () => {
    const token = await registerApi();
    const r = await send(
      t.publicUrl,
      'DELETE',
      '/SESSIONS',
      { 'content-type': 'application/json' },
      JSON.stringify({ session_token: token }),
    );
    assert.equal(r.status, 404);
    assert.ok(await active(token));
  });

  it('answers POST /Self-Service/Settings, a wrong-case whoami and flow init with 404', async () => {
    const token = await registerApi();
    assert.equal(
      (
        await send(
          t.publicUrl,
          'POST',
          '/Self-Service/Settings?flow=x',
          { 'x-session-token': token, 'content-type': 'application/json' },
          '{}',
        )
      ).status,
      404,
    );
    assert.equal((await send(t.publicUrl, 'GET', '/Sessions/WhoAmI', { 'x-session-token': token })).status, 404);
    assert.equal((await send(t.publicUrl, 'GET', '/self-service/Login/api')).status, 404);
    assert.equal((await send(t.publicUrl, 'GET', '/Health/alive')).status, 404);
  });

  it('is case-sensitive on the admin port too', async () => {
    assert.equal((await send(t.adminUrl, 'GET', '/Identities')).status, 404);
    assert.equal((await send(t.adminUrl, 'GET', '/identities')).status, 200);
  });
});

describe('trailing slashes', () => {
  it('redirects a GET logout with a trailing slash to the route, query kept, without logging out', async () => {
    const token = await registerApi();
    const r = await send(t.publicUrl, 'GET', '/self-service/browser/flows/logout/?return_to=http%3A%2F%2Fui.test%2Fapp&x=1', {
      authorization: `Bearer ${token}`,
    });
    assert.equal(r.status, 301);
    assert.equal(r.location, '/self-service/browser/flows/logout?return_to=http%3A%2F%2Fui.test%2Fapp&x=1');
    assert.ok(await active(token), 'the trailing-slash logout was served');
  });

  it('redirects other methods with 307, so the method and body are kept', async () => {
    const token = await registerApi();
    const del = await send(
      t.publicUrl,
      'DELETE',
      '/sessions/',
      { 'content-type': 'application/json' },
      JSON.stringify({ session_token: token }),
    );
    assert.deepEqual(del, { status: 307, location: '/sessions' });
    assert.ok(await active(token));
    assert.deepEqual(await send(t.publicUrl, 'POST', '/self-service/settings/?flow=abc', { 'content-type': 'application/json' }, '{}'), {
      status: 307,
      location: '/self-service/settings?flow=abc',
    });
    assert.deepEqual(await send(t.publicUrl, 'HEAD', '/self-service/browser/flows/logout/', { authorization: `Bearer ${token}` }), {
      status: 307,
      location: '/self-service/browser/flows/logout',
    });
    assert.ok(await active(token));
  });

  it('redirects whoami, schemas, health and the admin API the same way', async () => {
    assert.deepEqual(await send(t.publicUrl, 'GET', '/sessions/whoami/'), { status: 301, location: '/sessions/whoami' });
    assert.deepEqual(await send(t.publicUrl, 'GET', '/schemas/default/'), { status: 301, location: '/schemas/default' });
    assert.deepEqual(await send(t.publicUrl, 'GET', '/health/alive/'), { status: 301, location: '/health/alive' });
    assert.deepEqual(await send(t.adminUrl, 'GET', '/identities/?per_page=1'), { status: 301, location: '/identities?per_page=1' });
  });

  it('never redirects off the server: a path that would become protocol-relative is a 404', async () => {
    const r = await send(t.publicUrl, 'GET', '//evil.example/');
    assert.equal(r.status, 404, `redirected to ${String(r.location)}`);
  });

  it('still serves the routes themselves', async () => {
    assert.equal((await send(t.publicUrl, 'GET', '/health/alive')).status, 200);
    assert.equal((await send(t.publicUrl, 'GET', '/schemas/default')).status, 200);
  });
});
