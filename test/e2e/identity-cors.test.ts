/**
 * serve.public.cors in real Chromium: a single-page app on one origin calls the embedded identity
 * server on another with `fetch(…, { credentials: 'include' })`. From an allowed origin the page
 * reads the answer (the session cookie went along); from any other origin the browser blocks
 * it, although the server answered. The page origins are other ports of 127.0.0.1, so the
 * session cookie is sent in both cases (same site): only CORS decides.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { closeServer, listenOnFreePort } from '../helpers/servers.js';
import {
  Browser as CookieJar,
  kratosTestConfig,
  registerBrowser,
  registerWithApi,
  startTestServer,
  type TestServer,
} from '../integration/identity/helpers.js';
import { launchBrowser } from './support/browser.js';

const PASSWORD = 'a long and unusual passphrase 7';

let browser: Browser;
const pageServers: Server[] = [];

/** A page server for one origin: an empty HTML page at every path. */
async function startPageOrigin(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>single-page app</title>');
  });
  pageServers.push(server);
  return listenOnFreePort(server);
}

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser.close();
  await Promise.all(pageServers.map(closeServer));
});

type FetchOutcome = { read: true; status: number; body: string } | { read: false; error: string };

/** Runs fetch in the page, as the app's own script would. */
function fetchFromPage(page: Page, url: string, headers: Record<string, string> = {}): Promise<FetchOutcome> {
  return page.evaluate(
    async ({ url, headers }) => {
      try {
        const res = await fetch(url, { credentials: 'include', headers });
        return { read: true as const, status: res.status, body: await res.text() };
      } catch (e) {
        return { read: false as const, error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { url, headers },
  );
}

const emailIn = (o: FetchOutcome) =>
  o.read ? (JSON.parse(o.body) as { identity: { traits: { email: string } } }).identity.traits.email : undefined;

/** A browser context holding the identity server's session cookie for a signed-up identity, and a page on `origin`. */
async function signedInPage(t: TestServer, origin: string, email: string): Promise<{ context: BrowserContext; page: Page }> {
  const jar = new CookieJar();
  await registerBrowser(t, jar, email, PASSWORD);
  const value = jar.jar.get('ory_kratos_session');
  assert.ok(value, 'registration left a session cookie');
  const context = await browser.newContext();
  // No expiry: the server under test runs on a settable clock, the browser on the real one.
  await context.addCookies([{ name: 'ory_kratos_session', value, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Lax' }]);
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return { context, page };
}

test('an allowed origin reads credentialed and preflighted answers; any other origin is blocked by the browser', async () => {
  const [allowed, other] = [await startPageOrigin(), await startPageOrigin()];
  const t = await startTestServer({
    config: kratosTestConfig({ serve: { public: { cors: { enabled: true, allowed_origins: [allowed], debug: true } } } }),
  });
  try {
    const whoami = `${t.publicUrl}/sessions/whoami`;
    const token = await registerWithApi(t.publicUrl, 'api-client@example.com', PASSWORD);

    const app = await signedInPage(t, allowed, 'spa-user@example.com');
    const withCookie = await fetchFromPage(app.page, whoami);
    assert.deepEqual([withCookie.read && withCookie.status, emailIn(withCookie)], [200, 'spa-user@example.com']);
    // A custom header makes the browser ask first; the preflight is answered, then the request is read.
    const withToken = await fetchFromPage(app.page, whoami, { 'X-Session-Token': token });
    assert.deepEqual([withToken.read && withToken.status, emailIn(withToken)], [200, 'api-client@example.com']);
    assert.ok(t.logs.some((l) => l.includes('[cors] Handler: Preflight request')));
    await app.context.close();

    const elsewhere = await signedInPage(t, other, 'someone-else@example.com');
    const blocked = await fetchFromPage(elsewhere.page, whoami);
    assert.equal(blocked.read, false, JSON.stringify(blocked));
    assert.match(blocked.read ? '' : blocked.error, /^TypeError: /);
    // The server did answer; the browser refused to hand the answer to the page.
    assert.ok(t.logs.some((l) => l.includes(`Actual request no headers added: origin '${other}' not allowed`)));
    const blockedPreflight = await fetchFromPage(elsewhere.page, whoami, { 'X-Session-Token': token });
    assert.match(blockedPreflight.read ? '' : blockedPreflight.error, /^TypeError: /);
    await elsewhere.context.close();
  } finally {
    await t.close();
  }
});

test("Kratos's defaults (every origin, with credentials) answer `*`, which browsers refuse for credentialed requests", async () => {
  const origin = await startPageOrigin();
  const t = await startTestServer({ config: kratosTestConfig({ serve: { public: { cors: { enabled: true } } } }) });
  try {
    const { context, page } = await signedInPage(t, origin, 'defaults@example.com');
    const credentialed = await fetchFromPage(page, `${t.publicUrl}/sessions/whoami`);
    assert.match(credentialed.read ? '' : credentialed.error, /^TypeError: /);
    const anonymous = await page.evaluate(
      async (url) => (await fetch(url, { credentials: 'omit' })).status,
      `${t.publicUrl}/sessions/whoami`,
    );
    assert.equal(anonymous, 401, 'without credentials the page reads the answer');
    await context.close();
  } finally {
    await t.close();
  }
});
