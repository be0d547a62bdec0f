/**
 * `routes[].cors` in Debian's Chromium: a page on one origin calls the gateway on another with
 * `fetch(…, { credentials: 'include' })`. The browser enforces CORS, so this shows the
 * gateway's answers are what a browser needs: an allowed origin gets through the preflight (which
 * never reaches the upstream) and reads both a signed-in answer and the gateway's own 401; a
 * disallowed origin, or a header the policy does not allow, is blocked by the browser.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser } from './support/browser.js';
import { closeServer, listenOnFreePort, startEchoUpstream, startFakeKratos, startTestGateway } from '../helpers/servers.js';

describe('CORS in a real browser', () => {
  let browser: Browser;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  // Two page origins: the gateway allows the first only.
  const pages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title>');
  });
  const otherPages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>other</title>');
  });
  let app: string;
  let other: string;

  before(async () => {
    browser = await launchBrowser();
    app = await listenOnFreePort(pages);
    other = await listenOnFreePort(otherPages);
    upstream = await startEchoUpstream();
    kratos = await startFakeKratos();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      routes: [
        {
          name: 'api',
          match: { path_prefix: '/api' },
          upstream: upstream.url,
          cors: { allowed_origins: [app], allowed_methods: ['GET', 'PUT'], allowed_headers: ['Content-Type'], allow_credentials: true },
        },
      ],
    });
  });
  after(async () => {
    await browser.close();
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
    await closeServer(pages);
    await closeServer(otherPages);
  });

  /** Runs a fetch in a page of `origin`; returns the status and body, or the error the browser raised. */
  async function fetchFrom(context: BrowserContext, origin: string, init: { method: string; headers?: Record<string, string> }) {
    const page = await context.newPage();
    await page.goto(origin + '/');
    const result = await page.evaluate(
      async ({ url, init }) => {
        try {
          const res = await fetch(url, { ...init, credentials: 'include', body: init.method === 'PUT' ? '{}' : undefined });
          return { status: res.status, body: await res.text() };
        } catch (err) {
          return { error: String(err) };
        }
      },
      { url: gw.proxyUrl + '/api/items', init },
    );
    await page.close();
    return result;
  }

  async function signedIn(): Promise<{ context: BrowserContext; identityId: string }> {
    const { token, identityId } = kratos.addSession();
    const context = await browser.newContext();
    await context.addCookies([{ name: 'ory_kratos_session', value: token, url: gw.proxyUrl }]);
    return { context, identityId };
  }

  test('an allowed origin: the preflighted PUT goes through with the session cookie, and the preflight never reaches the upstream', async () => {
    const { context, identityId } = await signedIn();
    try {
      const r = await fetchFrom(context, app, { method: 'PUT', headers: { 'content-type': 'application/json' } });
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 200);
      const echoed = JSON.parse(r.body) as { method: string; headers: Record<string, string> };
      assert.equal(echoed.method, 'PUT');
      assert.equal(echoed.headers['x-kratos-authenticated-identity-id'], identityId);
      assert.equal(upstream.received.filter((x) => x.method === 'OPTIONS').length, 0, 'a preflight reached the upstream');
    } finally {
      await context.close();
    }
  });

  test("an allowed origin reads the gateway's own 401", async () => {
    const context = await browser.newContext();
    try {
      const r = await fetchFrom(context, app, { method: 'GET', headers: { accept: 'application/json' } });
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 401);
      assert.match(r.body, /"code":401/);
    } finally {
      await context.close();
    }
  });

  test('a disallowed origin, or a header the policy does not allow, is blocked by the browser', async () => {
    const { context } = await signedIn();
    try {
      const elsewhere = await fetchFrom(context, other, { method: 'GET' });
      assert.ok('error' in elsewhere, JSON.stringify(elsewhere));
      const header = await fetchFrom(context, app, { method: 'PUT', headers: { 'x-secret': '1' } });
      assert.ok('error' in header, JSON.stringify(header));
    } finally {
      await context.close();
    }
  });
});
