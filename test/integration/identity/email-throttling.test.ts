/**
 * Courier abuse: recovery and verification emails back off per recipient and per client
 * address (an embedded-server addition; Kratos v0.6 sends as many as asked for).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  Browser,
  courierMessages,
  csrfOf,
  flowIdFrom,
  messageIds,
  startTestServer,
  kratosTestConfig,
  UI,
  type HttpResult,
  type TestServer,
} from './helpers.js';

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(emailThrottling?: Record<string, unknown>): Promise<TestServer> {
  const t = await startTestServer(
    emailThrottling ? { config: kratosTestConfig({ kratos_gateway: { email_throttling: emailThrottling } }) } : {},
  );
  servers.push(t);
  return t;
}

async function requestLink(t: TestServer, kind: 'recovery' | 'verification', email: string, xff = '203.0.113.50'): Promise<HttpResult> {
  const b = new Browser();
  const headers = { 'x-forwarded-for': xff };
  const flow = (await b.send('GET', `${t.publicUrl}/self-service/${kind}/api`, { headers: { accept: 'application/json', ...headers } }))
    .json;
  return b.postJson(`${t.publicUrl}/self-service/${kind}?flow=${String(flow.id)}`, { method: 'link', email }, headers);
}

async function sentTo(t: TestServer, email: string): Promise<number> {
  return (await courierMessages(t.adminUrl)).filter((m) => m.recipient === email).length;
}

describe('email throttling', () => {
  it('sends five links to one inbox, then refuses with 429 and a doubling Retry-After, recovery and verification together', async () => {
    const t = await server();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await requestLink(t, 'recovery', 'inbox@example.com')).status);
    for (let i = 0; i < 2; i++) statuses.push((await requestLink(t, 'verification', 'Inbox@Example.com')).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const refused = await requestLink(t, 'recovery', 'inbox@example.com', '203.0.113.51');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.headers['retry-after'], '60');
    assert.equal(refused.json.error.status, 'Too Many Requests');
    assert.equal(refused.json.error.details.retry_after_seconds, 60);
    assert.equal(await sentTo(t, 'inbox@example.com'), 5);
    t.clock.advance(60_000);
    assert.equal((await requestLink(t, 'verification', 'inbox@example.com')).status, 200);
    const again = await requestLink(t, 'verification', 'inbox@example.com');
    assert.equal(again.status, 429);
    assert.equal(again.headers['retry-after'], '120');
    assert.equal(await sentTo(t, 'inbox@example.com'), 6);
    // Other inboxes are not affected.
    assert.equal((await requestLink(t, 'recovery', 'other@example.com')).status, 200);
  });

  it('limits one client asking for links to many addresses', async () => {
    const t = await server({ per_client: { max_emails: 3 } });
    for (let i = 0; i < 3; i++) assert.equal((await requestLink(t, 'recovery', `victim-${i}@example.com`, '198.51.100.9')).status, 200);
    const refused = await requestLink(t, 'recovery', 'victim-3@example.com', '198.51.100.9');
    assert.equal(refused.status, 429);
    assert.equal(await sentTo(t, 'victim-3@example.com'), 0);
    assert.equal((await requestLink(t, 'recovery', 'victim-3@example.com', '198.51.100.10')).status, 200);
  });

  it('shows the wait on the browser form instead of sending', async () => {
    const t = await server({ per_recipient: { max_emails: 1 } });
    const b = new Browser();
    const submit = async () => {
      const id = flowIdFrom((await b.get(`${t.publicUrl}/self-service/recovery/browser`)).location, `${UI}/recovery`);
      const flow = (await b.getJson(`${t.publicUrl}/self-service/recovery/flows?id=${id}`)).json;
      const res = await b.postForm(`${t.publicUrl}/self-service/recovery?flow=${id}`, {
        method: 'link',
        csrf_token: csrfOf(flow),
        email: 'form@example.com',
      });
      assert.equal(res.status, 302);
      assert.equal(res.headers['retry-after'], undefined);
      flowIdFrom(res.location, `${UI}/recovery`);
      return (await b.getJson(`${t.publicUrl}/self-service/recovery/flows?id=${id}`)).json;
    };
    assert.deepEqual(messageIds(await submit()), [1060002]);
    const refused = await submit();
    assert.deepEqual(messageIds(refused), [4290002]);
    assert.equal(refused.ui.messages[0].context.retry_after_seconds, 60);
    assert.equal(refused.state, 'choose_method');
    assert.equal(await sentTo(t, 'form@example.com'), 1);
  });

  it('can be turned off', async () => {
    const t = await server({ enabled: false });
    for (let i = 0; i < 25; i++) assert.equal((await requestLink(t, 'recovery', 'many@example.com')).status, 200);
    assert.equal(await sentTo(t, 'many@example.com'), 25);
    assert.equal(
      t.logs.some((l) => l.includes('unknown or unsupported key')),
      false,
      t.logs.join(''),
    );
  });
});
