/**
 * serve.public.cors on the embedded server over real HTTP: like Kratos v0.6 (rs/cors around the
 * whole public handler) it answers preflights itself and puts the CORS headers on every answer
 * to an allowed origin, whoami (served before express) and the server's own errors included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { kratosTestConfig, registerWithApi, startTestServer, type TestServer } from './helpers.js';

const APP = 'http://app.test';
const PASSWORD = 'a long and unusual passphrase 7';

interface Answer {
  status: number;
  body: string;
  header(name: string): string | undefined;
}

async function send(url: string, method: string, headers: Record<string, string>): Promise<Answer> {
  const res = await request(url, { method: method as 'GET', headers });
  const body = await res.body.text();
  return {
    status: res.statusCode,
    body,
    // Repeated headers (Vary is sent once per value) read as one list.
    header: (name) => {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

const preflight = (url: string, origin: string, method: string, requestHeaders?: string) =>
  send(url, 'OPTIONS', {
    origin,
    'access-control-request-method': method,
    ...(requestHeaders !== undefined ? { 'access-control-request-headers': requestHeaders } : {}),
  });

describe('serve.public.cors enabled', () => {
  let t: TestServer;
  let token: string;
  before(async () => {
    t = await startTestServer({
      config: kratosTestConfig({
        serve: { public: { cors: { enabled: true, allowed_origins: [APP, 'https://*.example.com'], max_age: 600, debug: true } } },
      }),
    });
    token = await registerWithApi(t.publicUrl, 'cors@example.com', PASSWORD);
  });
  after(() => t.close());

  it('answers a preflight from an allowed origin itself, with what it asked for', async () => {
    const res = await preflight(`${t.publicUrl}/sessions/whoami`, APP, 'get', 'x-session-token');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.equal(res.header('vary'), 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(res.header('access-control-allow-origin'), APP);
    assert.equal(res.header('access-control-allow-methods'), 'GET');
    assert.equal(res.header('access-control-allow-headers'), 'X-Session-Token');
    assert.equal(res.header('access-control-allow-credentials'), 'true');
    assert.equal(res.header('access-control-max-age'), '600');
    assert.ok(t.logs.some((l) => l.includes('[cors] Handler: Preflight request')));
  });

  it('answers a preflight it refuses with 200 and Vary only: an origin, a method or a header not allowed', async () => {
    const url = `${t.publicUrl}/self-service/login/api`;
    for (const res of [
      await preflight(url, 'http://elsewhere.test', 'GET'),
      await preflight(url, 'https://example.com', 'GET'),
      await preflight(url, APP, 'TRACE'),
      await preflight(url, APP, 'POST', 'X-Custom'),
    ]) {
      assert.equal(res.status, 200);
      assert.equal(res.header('vary'), 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      assert.equal(res.header('access-control-allow-origin'), undefined);
      assert.equal(res.header('access-control-allow-methods'), undefined);
    }
  });

  it('puts the headers on whoami, self-service answers and errors for allowed origins only', async () => {
    const whoami = await send(`${t.publicUrl}/sessions/whoami`, 'GET', { origin: APP, 'x-session-token': token });
    assert.equal(whoami.status, 200);
    assert.equal((JSON.parse(whoami.body) as { identity: { traits: { email: string } } }).identity.traits.email, 'cors@example.com');
    assert.equal(whoami.header('access-control-allow-origin'), APP);
    assert.equal(whoami.header('access-control-allow-credentials'), 'true');
    assert.equal(whoami.header('access-control-expose-headers'), 'Content-Type');
    assert.equal(whoami.header('vary'), 'Origin');

    const login = await send(`${t.publicUrl}/self-service/login/api`, 'GET', { origin: 'https://shop.example.com' });
    assert.equal(login.status, 200);
    assert.equal(login.header('access-control-allow-origin'), 'https://shop.example.com');

    const missing = await send(`${t.publicUrl}/no/such/path`, 'GET', { origin: APP });
    assert.equal(missing.status, 404);
    assert.equal(missing.header('access-control-allow-origin'), APP);

    const other = await send(`${t.publicUrl}/sessions/whoami`, 'GET', { origin: 'http://elsewhere.test', 'x-session-token': token });
    assert.equal(other.status, 200, 'the answer is the same; only the browser is not told it may read it');
    assert.equal(other.header('access-control-allow-origin'), undefined);
    assert.equal(other.header('vary'), 'Origin');
  });

  it('leaves an OPTIONS request without Access-Control-Request-Method to the routes, untouched', async () => {
    const res = await send(`${t.publicUrl}/sessions/whoami`, 'OPTIONS', { origin: APP });
    assert.equal(res.header('access-control-allow-origin'), undefined);
    assert.equal(res.header('vary'), undefined);
  });

  it('does not touch the admin port (Kratos v0.6 applies CORS to the public port only)', async () => {
    const res = await preflight(`${t.adminUrl}/identities`, APP, 'GET');
    assert.equal(res.header('access-control-allow-origin'), undefined);
    assert.equal(res.header('vary'), undefined);
  });
});

describe('serve.public.cors not enabled (the default)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ config: kratosTestConfig({ serve: { public: { cors: { allowed_origins: [APP] } } } }) });
  });
  after(() => t.close());

  it('adds no CORS headers and answers no preflight', async () => {
    const pre = await preflight(`${t.publicUrl}/sessions/whoami`, APP, 'GET');
    assert.equal(pre.header('access-control-allow-origin'), undefined);
    assert.equal(pre.status, 401, 'OPTIONS /sessions/whoami reaches whoami');
    const res = await send(`${t.publicUrl}/self-service/login/api`, 'GET', { origin: APP });
    assert.equal(res.status, 200);
    assert.equal(res.header('access-control-allow-origin'), undefined);
    assert.equal(res.header('vary'), undefined);
  });
});
