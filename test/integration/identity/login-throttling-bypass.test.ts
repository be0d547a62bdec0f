/**
 * The failed-login backoff: ways around it that cost an attacker nothing.
 * Real HTTP, real SQLite; client addresses are named in X-Forwarded-For from loopback, as the
 * gateway's mount does.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Browser, startTestServer, kratosTestConfig, type HttpResult, type TestServer, registerWithApi } from './helpers.js';

const PASSWORD = 'a-long-enough-passphrase';
let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(throttling: Record<string, unknown>): Promise<TestServer> {
  const t = await startTestServer({ config: kratosTestConfig({ kratos_gateway: { login_throttling: throttling } }) });
  servers.push(t);
  return t;
}

const registerApi = async (t: TestServer, email: string): Promise<void> => void (await registerWithApi(t.publicUrl, email, PASSWORD));

async function apiLogin(t: TestServer, identifier: string, password: string, xff: string): Promise<HttpResult> {
  const b = new Browser();
  const headers = { 'x-forwarded-for': xff };
  const flow = (await b.send('GET', `${t.publicUrl}/self-service/login/api`, { headers: { accept: 'application/json', ...headers } })).json;
  return b.postJson(
    `${t.publicUrl}/self-service/login?flow=${String(flow.id)}`,
    { method: 'password', password_identifier: identifier, password },
    headers,
  );
}

describe('login throttling, ways around it', () => {
  it('refused attempts cannot flood the table and evict a blocked identifier', async () => {
    const limit = { max_failures: 3, base_delay: '10m', max_delay: '1h', reset_after: '1h' };
    const t = await server({ enabled: true, max_tracked: 20, per_identifier: limit, per_client: limit });
    await registerApi(t, 'victim@example.com');
    // The victim's identifier is blocked by failures from three addresses.
    for (let i = 1; i <= 3; i++) assert.equal((await apiLogin(t, 'victim@example.com', 'wrong', `198.51.100.${i}`)).status, 400);
    assert.equal((await apiLogin(t, 'victim@example.com', PASSWORD, '198.51.100.9')).status, 429, 'blocked');
    // One address, itself blocked after three failures, sends refused attempts for many identifiers.
    for (let i = 0; i < 40; i++) await apiLogin(t, `filler-${i}@example.com`, 'wrong', '203.0.113.66');
    const again = await apiLogin(t, 'victim@example.com', PASSWORD, '198.51.100.10');
    assert.equal(again.status, 429, `the victim's backoff survived the flood: ${again.text}`);
  });

  it('an IPv6 client is limited per /64, not per address (it holds 2^64 of them)', async () => {
    const t = await server({
      enabled: true,
      per_identifier: { max_failures: 1000 },
      per_client: { max_failures: 3, base_delay: '10m', max_delay: '1h', reset_after: '1h' },
    });
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++)
      statuses.push((await apiLogin(t, `spray-${i}@example.com`, 'wrong', `2001:db8:1:2::${i.toString(16)}`)).status);
    assert.deepEqual(statuses, [400, 400, 400, 429, 429, 429]);
  });
});
