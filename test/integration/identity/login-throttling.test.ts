/**
 * Failed-login backoff (an embedded-server addition; Kratos v0.6 has none): per identifier and
 * per client address (X-Forwarded-For from loopback peers), 429 + Retry-After for API flows, a
 * message on the flow and the usual redirect for browser flows. Real HTTP, real SQLite, the
 * settable clock stands still unless a test advances it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  Browser,
  csrfOf,
  flowIdFrom,
  loginBrowser,
  messageIds,
  registerBrowser,
  startTestServer,
  kratosTestConfig,
  UI,
  type HttpResult,
  type TestServer,
  registerWithApi,
} from './helpers.js';

const PASSWORD = 'a-long-enough-passphrase';
let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(throttling?: Record<string, unknown>, trustedProxies?: string[]): Promise<TestServer> {
  const ours = { ...(throttling ? { login_throttling: throttling } : {}), ...(trustedProxies ? { trusted_proxies: trustedProxies } : {}) };
  const t = await startTestServer({ config: kratosTestConfig({ kratos_gateway: ours }) });
  servers.push(t);
  return t;
}

const registerApi = async (t: TestServer, email: string): Promise<void> => void (await registerWithApi(t.publicUrl, email, PASSWORD));

/** One API login attempt on a fresh flow, optionally as a client the gateway names in X-Forwarded-For. */
async function apiLogin(t: TestServer, identifier: string, password: string, xff?: string): Promise<HttpResult> {
  const b = new Browser();
  const headers: Record<string, string> = xff ? { 'x-forwarded-for': xff } : {};
  const flow = (await b.send('GET', `${t.publicUrl}/self-service/login/api`, { headers: { accept: 'application/json', ...headers } })).json;
  return b.postJson(
    `${t.publicUrl}/self-service/login?flow=${String(flow.id)}`,
    { method: 'password', password_identifier: identifier, password },
    headers,
  );
}

function assertThrottled(res: HttpResult, retryAfter: number): void {
  assert.equal(res.status, 429, res.text);
  assert.equal(res.headers['retry-after'], String(retryAfter));
  assert.equal(res.json.error.code, 429);
  assert.equal(res.json.error.status, 'Too Many Requests');
  assert.equal(res.json.error.details.retry_after_seconds, retryAfter);
}

describe('login throttling, per identifier', () => {
  it('refuses the right password after a burst of wrong ones (30 wrong in under a second no longer ends in a login)', async (tc) => {
    const t = await server();
    await registerApi(t, 'burst@example.com');
    const statuses: number[] = [];
    const started = performance.now();
    for (let i = 0; i < 30; i++) statuses.push((await apiLogin(t, 'burst@example.com', `wrong-${i}`, '203.0.113.1')).status);
    const elapsedMs = performance.now() - started;
    assert.deepEqual(statuses.slice(0, 5), [400, 400, 400, 400, 400]);
    assert.deepEqual(new Set(statuses.slice(5)), new Set([429]));
    const right = await apiLogin(t, 'BURST@example.com ', PASSWORD, '203.0.113.1');
    assertThrottled(right, 1);
    assert.equal(right.json.session_token, undefined);
    // From another address too: the identifier itself is locked, not just the attacker's address.
    assertThrottled(await apiLogin(t, 'burst@example.com', PASSWORD, '203.0.113.2'), 1);
    t.clock.advance(1000);
    const after = await apiLogin(t, 'burst@example.com', PASSWORD, '203.0.113.1');
    assert.equal(after.status, 200, after.text);
    assert.match(after.json.session_token, /^[A-Za-z0-9]{32}$/);
    tc.diagnostic(`30 sequential wrong-password API logins took ${elapsedMs.toFixed(0)} ms`);
  });

  it('doubles the wait with every further failure up to max_delay; success starts over; reset_after forgets', async () => {
    const t = await server({ per_identifier: { max_failures: 3, base_delay: '2s', max_delay: '8s', reset_after: '10m' } });
    await registerApi(t, 'backoff@example.com');
    const xff = '203.0.113.10';
    for (let i = 0; i < 3; i++) assert.equal((await apiLogin(t, 'backoff@example.com', 'nope', xff)).status, 400);
    assertThrottled(await apiLogin(t, 'backoff@example.com', 'nope', xff), 2);
    for (const wait of [2, 4, 8, 8]) {
      t.clock.advance(wait * 1000 - 1);
      assertThrottled(await apiLogin(t, 'backoff@example.com', PASSWORD, xff), 1);
      t.clock.advance(1);
      assert.equal((await apiLogin(t, 'backoff@example.com', 'nope', xff)).status, 400);
      const next = Math.min(8, wait * 2);
      assertThrottled(await apiLogin(t, 'backoff@example.com', 'nope', xff), next);
    }
    t.clock.advance(8000);
    assert.equal((await apiLogin(t, 'backoff@example.com', PASSWORD, xff)).status, 200);
    // The success cleared the record: three failures again before the first (base) wait.
    for (let i = 0; i < 3; i++) assert.equal((await apiLogin(t, 'backoff@example.com', 'nope', xff)).status, 400);
    assertThrottled(await apiLogin(t, 'backoff@example.com', 'nope', xff), 2);
    // Failures older than reset_after are forgotten.
    t.clock.advance(10 * 60_000);
    for (let i = 0; i < 3; i++) assert.equal((await apiLogin(t, 'backoff@example.com', 'nope', xff)).status, 400);
    assertThrottled(await apiLogin(t, 'backoff@example.com', 'nope', xff), 2);
  });

  it('lets at most max_failures of a parallel burst reach the password check', async (tc) => {
    const t = await server();
    await registerApi(t, 'parallel@example.com');
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => apiLogin(t, 'parallel@example.com', `wrong-${i}`, '203.0.113.20')),
    );
    const checked = results.filter((r) => r.status === 400).length;
    assert.equal(results.filter((r) => r.status === 429).length, 30 - checked);
    assert.ok(checked >= 1 && checked <= 5, `${checked} attempts were checked`);
    tc.diagnostic(`${checked} of 30 parallel attempts reached the password check`);
  });

  it('throttles unknown identifiers the same way, so a 429 does not reveal whether an account exists', async () => {
    const t = await server();
    for (let i = 0; i < 5; i++) assert.equal((await apiLogin(t, 'nobody@example.com', 'x', '203.0.113.30')).status, 400);
    assertThrottled(await apiLogin(t, 'nobody@example.com', 'x', '203.0.113.30'), 1);
  });

  it('puts the wait on the flow and redirects back to the login UI for browser flows, without checking the password', async () => {
    const t = await server();
    const b = new Browser();
    await registerBrowser(t, b, 'browser-throttle@example.com', PASSWORD);
    b.jar.delete('ory_kratos_session');
    for (let i = 0; i < 5; i++) {
      const res = await loginBrowser(t, b, 'browser-throttle@example.com', 'wrong');
      flowIdFrom(res.location, `${UI}/login`);
    }
    const refused = await loginBrowser(t, b, 'browser-throttle@example.com', PASSWORD);
    assert.equal(refused.status, 302);
    const flowId = flowIdFrom(refused.location, `${UI}/login`);
    assert.equal(refused.headers['retry-after'], undefined);
    assert.equal(b.jar.has('ory_kratos_session'), false, 'no session was issued');
    const flow = (await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${flowId}`)).json;
    assert.deepEqual(messageIds(flow), [4290001]);
    assert.equal(flow.ui.messages[0].context.retry_after_seconds, 1);
    assert.match(flow.ui.messages[0].text, /wait 1 seconds/);
    // The re-rendered form still works once the wait is over.
    t.clock.advance(1000);
    const ok = await b.postForm(`${t.publicUrl}/self-service/login?flow=${flowId}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      password_identifier: 'browser-throttle@example.com',
      password: PASSWORD,
    });
    assert.equal(ok.status, 302);
    assert.equal(ok.location, `${UI}/`);
    assert.equal((await b.getJson(`${t.publicUrl}/sessions/whoami`)).status, 200);
  });

  it('answers JSON requests on browser flows with 429 and Retry-After', async () => {
    const t = await server({ per_identifier: { max_failures: 1 } });
    const b = new Browser();
    const init = await b.get(`${t.publicUrl}/self-service/login/browser`);
    const flowId = flowIdFrom(init.location, `${UI}/login`);
    const flow = (await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${flowId}`)).json;
    const submit = () =>
      b.postJson(`${t.publicUrl}/self-service/login?flow=${flowId}`, {
        method: 'password',
        csrf_token: csrfOf(flow),
        password_identifier: 'spa@example.com',
        password: 'x',
      });
    assert.equal((await submit()).status, 400);
    assertThrottled(await submit(), 1);
  });
});

describe('login throttling, per client address', () => {
  it('throttles one address spraying many identifiers, keyed on the X-Forwarded-For the gateway sets', async () => {
    const t = await server();
    const attacker = '198.51.100.7';
    for (let i = 0; i < 20; i++) assert.equal((await apiLogin(t, `spray-${i}@example.com`, 'x', attacker)).status, 400);
    assertThrottled(await apiLogin(t, 'spray-fresh@example.com', 'x', attacker), 1);
    // Prepending a made-up hop does not help: the hop the gateway appended (right-most) is the client.
    assertThrottled(await apiLogin(t, 'spray-fresh@example.com', 'x', `192.0.2.99, ${attacker}`), 1);
    // Another client is not affected.
    assert.equal((await apiLogin(t, 'spray-fresh@example.com', 'x', '198.51.100.8')).status, 400);
    // A successful login does not clear the address's record (else one valid account would reset it).
    await registerApi(t, 'own-account@example.com');
    t.clock.advance(1000);
    assert.equal((await apiLogin(t, 'own-account@example.com', PASSWORD, attacker)).status, 200);
    assert.equal((await apiLogin(t, 'spray-next@example.com', 'x', attacker)).status, 400);
    assertThrottled(await apiLogin(t, 'spray-next2@example.com', 'x', attacker), 2);
  });

  it('ignores X-Forwarded-For from peers that are not trusted', async () => {
    const t = await server({ per_client: { max_failures: 4 } }, []);
    for (let i = 0; i < 4; i++) assert.equal((await apiLogin(t, `xff-${i}@example.com`, 'x', `198.51.100.${i}`)).status, 400);
    // Every attempt came from 127.0.0.1, whatever the header said.
    assertThrottled(await apiLogin(t, 'xff-new@example.com', 'x', '198.51.100.200'), 1);
  });
});

describe('login throttling, configuration', () => {
  it('can be turned off: 30 wrong passwords, then the right one logs in (Kratos v0.6 behaviour)', async () => {
    const t = await server({ enabled: false });
    await registerApi(t, 'off@example.com');
    for (let i = 0; i < 30; i++) assert.equal((await apiLogin(t, 'off@example.com', `wrong-${i}`)).status, 400);
    assert.equal((await apiLogin(t, 'off@example.com', PASSWORD)).status, 200);
  });

  it('is not reported as an unknown key, and bad values stop start-up with the key path', async () => {
    const t = await server({ per_client: { max_failures: 50 } });
    assert.equal(
      t.logs.some((l) => l.includes('kratos_gateway')),
      false,
      t.logs.join(''),
    );
    await assert.rejects(
      server(undefined, ['10.0.0.0/']),
      /kratos_gateway\.trusted_proxies\.0: "10\.0\.0\.0\/" is not an IP address or CIDR/,
    );
    await assert.rejects(
      server({ per_identifier: { base_delay: '10m', max_delay: '1m' } }),
      /kratos_gateway\.login_throttling\.per_identifier\.max_delay: must not be shorter than base_delay/,
    );
  });
});
