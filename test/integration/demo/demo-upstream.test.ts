/** The demo upstream on a real loopback port: page, echo, stylesheet and WebSocket echo. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import WebSocket from 'ws';
import { startDemoUpstream, type DemoUpstream } from '../../../src/demo/index.js';
import { createLogger } from '../../../src/log.js';

let demo: DemoUpstream;

before(async () => {
  demo = await startDemoUpstream({ host: '127.0.0.1', port: 0, logger: createLogger('silent') });
});

after(async () => {
  await demo.close();
});

test('the url is a loopback http URL with the bound port', () => {
  assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(demo.url, 'http://127.0.0.1:0');
});

test('/echo/* answers method, raw path and headers as JSON, for any method', async () => {
  const res = await request(`${demo.url}/echo/a/b?x=1&y=%2F`, {
    method: 'POST',
    headers: { 'x-test': 'yes', 'content-type': 'text/plain' },
    body: 'ignored body',
  });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = (await res.body.json()) as { method: string; path: string; headers: Record<string, string> };
  assert.equal(body.method, 'POST');
  assert.equal(body.path, '/echo/a/b?x=1&y=%2F');
  assert.equal(body.headers['x-test'], 'yes');
  assert.equal(body.headers.host, new URL(demo.url).host);
});

test('the page shows the identity id, the traits and every received header', async () => {
  const res = await request(`${demo.url}/`, {
    headers: {
      'X-Kratos-Authenticated-Identity-Id': '0b7e7a4c-1111-4222-8333-444455556666',
      'X-Kratos-Session-Id': 'sess-1',
      'X-User-Email': 'ada@example.com',
      'X-User-First-Name': 'Ada',
      'X-Forwarded-For': '127.0.0.1',
    },
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(String(res.headers['content-security-policy']), /script-src 'none'/);
  const page = await res.body.text();
  assert.ok(page.includes('<code id="identity-id">0b7e7a4c-1111-4222-8333-444455556666</code>'));
  assert.ok(page.includes('<dt>Email</dt><dd>ada@example.com'));
  assert.ok(page.includes('<dt>First name</dt><dd>Ada'));
  for (const name of ['X-Kratos-Authenticated-Identity-Id', 'X-Kratos-Session-Id', 'X-User-Email', 'X-Forwarded-For', 'host']) {
    assert.ok(page.includes(`<code>${name}</code></th>`), `header ${name} is listed`);
  }
  assert.ok(page.includes('href="/.ory/kratos/public/self-service/browser/flows/logout">Log out</a>'));
  assert.ok(page.includes('href="/.ory/kratos/public/self-service/settings/browser">Account settings</a>'));
});

test('header values are escaped and credential values are hidden on the page', async () => {
  const res = await request(`${demo.url}/`, {
    headers: {
      'X-User-Email': '<script>alert(1)</script>',
      'X-Kratos-Authenticated-Identity-Id': '"><img src=x>',
      cookie: 'ory_kratos_session=secretvalue; theme=dark',
      authorization: 'Bearer secrettoken',
    },
  });
  const page = await res.body.text();
  assert.ok(!page.includes('<script>alert'));
  assert.ok(!page.includes('<img src=x>'));
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(page.includes('&quot;&gt;&lt;img src=x&gt;'));
  assert.ok(!page.includes('secretvalue'));
  assert.ok(!page.includes('secrettoken'));
  assert.ok(page.includes('ory_kratos_session=(hidden); theme=(hidden)'));
  assert.ok(page.includes('Bearer (hidden)'));
});

test('without an identity the page says the request was anonymous', async () => {
  const page = await (await request(`${demo.url}/`)).body.text();
  assert.ok(page.includes('without an identity'));
  assert.ok(!page.includes('identity-id'));
});

test('the stylesheet is served, other paths are 404 and POST / is 405', async () => {
  const css = await request(`${demo.url}/demo.css`);
  assert.equal(css.statusCode, 200);
  assert.match(String(css.headers['content-type']), /^text\/css/);
  await css.body.dump();
  const missing = await request(`${demo.url}/nope`);
  assert.equal(missing.statusCode, 404);
  await missing.body.dump();
  const post = await request(`${demo.url}/`, { method: 'POST', body: 'x' });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
});

test('custom logout and settings links are used and escaped', async () => {
  const other = await startDemoUpstream({
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('silent'),
    logoutUrl: '/logout?a=1&b="2"',
    settingsUrl: '/ui/settings',
  });
  try {
    const page = await (await request(`${other.url}/`)).body.text();
    assert.ok(page.includes('href="/logout?a=1&amp;b=&quot;2&quot;">Log out</a>'));
    assert.ok(page.includes('href="/ui/settings">Account settings</a>'));
  } finally {
    await other.close();
  }
});

test('/ws echoes text and binary messages; other upgrade paths are refused', async () => {
  const ws = new WebSocket(`${demo.url.replace('http', 'ws')}/ws`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = () =>
    new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
      ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })),
    );
  const text = next();
  ws.send('hello');
  assert.deepEqual(await text, { data: Buffer.from('hello'), isBinary: false });
  const bin = next();
  ws.send(Buffer.from([1, 2, 3]));
  assert.deepEqual(await bin, { data: Buffer.from([1, 2, 3]), isBinary: true });
  ws.close();

  const refused = new WebSocket(`${demo.url.replace('http', 'ws')}/elsewhere`);
  // A refused handshake also ends in an 'error' event once we drop the socket; that is expected.
  refused.on('error', () => {});
  const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  assert.equal(status, 404);
  refused.terminate();
});

test('close() ends open WebSocket connections', async () => {
  const other = await startDemoUpstream({ host: '127.0.0.1', port: 0, logger: createLogger('silent') });
  const ws = new WebSocket(`${other.url.replace('http', 'ws')}/ws`);
  await new Promise((resolve) => ws.once('open', resolve));
  const closed = new Promise((resolve) => ws.once('close', resolve));
  await other.close();
  await closed;
  assert.equal(ws.readyState, WebSocket.CLOSED);
});
