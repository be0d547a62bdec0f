/**
 * Login backoff end to end: the gateway's Kratos mount in front of the embedded identity server.
 * The identity server only sees the gateway (127.0.0.1), so the client address must come from
 * the X-Forwarded-For the gateway writes, which a client can only influence when the gateway
 * trusts it as a proxy.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { embeddedKratos, freePort, startTestGateway } from '../../helpers/servers.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
const gateways: Gateway[] = [];
after(async () => {
  await Promise.all(gateways.map((g) => g.shutdown()));
});

async function gateway(trustedProxies: string[]): Promise<string> {
  const port = await freePort();
  const gw = await startTestGateway({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}`, trusted_proxies: trustedProxies },
    embedded_kratos: embeddedKratos(),
    routes: [],
  });
  gateways.push(gw);
  return `${gw.proxyUrl}/.ory/kratos/public`;
}

async function login(
  mount: string,
  identifier: string,
  xff: string,
): Promise<{ status: number; retryAfter: string | undefined; body: { error?: { code: number } } }> {
  const init = await request(`${mount}/self-service/login/api`, { headers: { accept: 'application/json', 'x-forwarded-for': xff } });
  const flow = (await init.body.json()) as { id: string };
  const res = await request(`${mount}/self-service/login?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-forwarded-for': xff },
    body: JSON.stringify({ method: 'password', password_identifier: identifier, password: 'not-the-password' }),
  });
  const retryAfter = res.headers['retry-after'];
  return {
    status: res.statusCode,
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
    body: (await res.body.json()) as { error?: { code: number } },
  };
}

describe('login backoff through the gateway mount', () => {
  it('a client cannot escape the per-address limit by sending its own X-Forwarded-For (gateway trusts nobody)', async () => {
    const mount = await gateway([]);
    for (let i = 0; i < 20; i++) assert.equal((await login(mount, `spray-${i}@example.com`, `198.51.100.${i}`)).status, 400);
    const refused = await login(mount, 'spray-20@example.com', '198.51.100.250');
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfter, '1');
    assert.equal(refused.body.error?.code, 429);
  });

  it('behind a proxy the gateway trusts, each forwarded client has its own limit', async () => {
    const mount = await gateway(['127.0.0.1']);
    for (let i = 0; i < 20; i++) assert.equal((await login(mount, `spray-${i}@example.com`, '203.0.113.7')).status, 400);
    assert.equal((await login(mount, 'spray-20@example.com', '203.0.113.7')).status, 429);
    assert.equal((await login(mount, 'spray-20@example.com', '203.0.113.8')).status, 400);
  });
});
