/**
 * The quickstart in a real browser: each scenario starts `npm start`'s stack on
 * free ports with an empty data directory and drives Debian's Chromium through it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { launchBrowser } from './support/browser.js';
import { startStack, type Stack } from './support/stack.js';
import {
  changePassword,
  identifierField,
  identityIdOf,
  loginRefused,
  lowContrastText,
  loginToApp,
  logout,
  emailLinkFor,
  expectMessage,
  newAccount,
  register,
  screenshot,
  waitForPath,
  type Account,
} from './support/journeys.js';

let browser: Browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Runs `body` with a fresh stack and browser context; on failure adds a screenshot and the stack's log. */
function scenario(name: string, body: (s: { stack: Stack; page: Page }) => Promise<void>): void {
  test(name, async () => {
    const stack = await startStack();
    const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();
    try {
      await body({ stack, page });
    } catch (err) {
      await screenshot(page, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
      const tail = stack.output().slice(-6_000);
      if (err instanceof Error) err.message += `\n--- page: ${page.url()}\n--- stack output (tail):\n${tail}`;
      throw err;
    } finally {
      await context.close();
      await stack.close();
    }
  });
}

/** Signed out at `/`, the gateway sends the browser to the login page; register from there and land on `/`. */
async function registerFromApp(page: Page, stack: Stack, account: Account): Promise<void> {
  await page.goto(`${stack.baseUrl}/`);
  await waitForPath(page, '/ui/login');
  await register(page, account);
  await waitForPath(page, '/');
}

async function shownIdentityId(page: Page): Promise<string> {
  return ((await page.locator('#identity-id').textContent()) ?? '').trim();
}

/** The value the demo app lists for a request header (names compared case-insensitively). */
async function receivedHeader(page: Page, name: string): Promise<string | undefined> {
  const rows = page.locator('tbody tr');
  for (const row of await rows.all()) {
    const header = ((await row.locator('th').textContent()) ?? '').trim();
    if (header.toLowerCase() === name.toLowerCase()) return ((await row.locator('td').textContent()) ?? '').trim();
  }
  return undefined;
}

scenario('1. signed out at / → login → sign up → / shows the identity id and the injected header', async ({ stack, page }) => {
  const account = newAccount();
  await page.goto(`${stack.baseUrl}/`);
  await waitForPath(page, '/ui/login');
  assert.ok(new URL(page.url()).searchParams.get('flow'), 'the login page has a flow');
  assert.equal(await page.locator('h1').textContent(), 'Sign in');
  await screenshot(page, 'login');

  await register(page, account, (p) => screenshot(p, 'registration'));
  await waitForPath(page, '/');

  const id = await identityIdOf(stack.identityAdminUrl, account.email);
  assert.match(id, UUID);
  assert.equal(await shownIdentityId(page), id);
  assert.equal(await receivedHeader(page, 'X-Kratos-Authenticated-Identity-Id'), id);
  assert.equal(await receivedHeader(page, 'X-User-Email'), account.email);
  assert.deepEqual(await lowContrastText(page), [], 'the app page text has at least 4.5:1 contrast');
  await screenshot(page, 'app');
});

scenario('2. log out → login page; / redirects to login again; log in with the password → / works', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);
  const id = await shownIdentityId(page);

  await logout(page);
  await page.goto(`${stack.baseUrl}/`);
  await waitForPath(page, '/ui/login');

  await loginToApp(page, account);
  assert.equal(await shownIdentityId(page), id);
});

scenario('3. wrong password → the error is shown on the login page and the identifier is kept', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);
  await logout(page);

  await loginRefused(page, { email: account.email, password: `${account.password}-wrong` });
  assert.ok((await page.locator('[role="alert"]').count()) > 0, 'the error is announced');
  assert.equal(await identifierField(page).inputValue(), account.email);
  assert.equal(await page.locator('input[name="password"]').inputValue(), '');
  assert.deepEqual(await lowContrastText(page), [], 'the error is readable');
  await screenshot(page, 'login-error');
});

scenario('4. settings: change the password; the old one no longer logs in, the new one does', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);

  await page.getByRole('link', { name: 'Account settings' }).click();
  await waitForPath(page, '/ui/settings');
  assert.equal(await page.locator('h1').textContent(), 'Account settings');
  await screenshot(page, 'settings');

  const changed = { ...account, password: newAccount().password };
  await changePassword(page, changed.password);

  await logout(page);
  await loginRefused(page, account);
  await loginToApp(page, changed);
  assert.match(await shownIdentityId(page), UUID);
});

scenario('5. settings: a profile change shows up in the app at once', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);
  assert.equal(await receivedHeader(page, 'X-User-First-Name'), 'Ada');

  await page.getByRole('link', { name: 'Account settings' }).click();
  await waitForPath(page, '/ui/settings');
  const profile = page.locator('section', { has: page.getByRole('heading', { name: 'Profile' }) });
  await profile.locator('input[name="traits.name.first"]').fill('Grace');
  await profile.getByRole('button').click();
  await waitForPath(page, '/ui/settings');
  await expectMessage(page, /^Your changes have been saved!$/);
  const id = await identityIdOf(stack.identityAdminUrl, account.email);
  const stored = (await (await request(`${stack.identityAdminUrl}/identities/${id}`)).body.json()) as {
    traits: { name?: { first?: string } };
  };
  assert.equal(stored.traits.name?.first, 'Grace', 'the identity server saved the change');

  // The gateway caches sessions (whoami) for up to a minute; a saved change must not wait for that.
  await page.getByRole('link', { name: 'Back to the app' }).click();
  await waitForPath(page, '/');
  assert.equal(await receivedHeader(page, 'X-User-First-Name'), 'Grace');
});

scenario('6. recovery: email link from the courier → settings → new password works', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);
  await logout(page);

  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await waitForPath(page, '/ui/recovery');
  assert.equal(await page.locator('h1').textContent(), 'Recover your account');
  await page.locator('input[name="email"]').fill(account.email);
  await page.locator('form button[type="submit"]').click();
  await page.waitForSelector('.message-info');
  await expectMessage(page, /recovery link has been sent/);
  await screenshot(page, 'recovery-sent');

  const link = await emailLinkFor(stack.identityAdminUrl, account.email, 'recovery');
  assert.ok(link.startsWith(`${stack.baseUrl}/.ory/kratos/public/self-service/recovery?`), `the link goes through the gateway: ${link}`);
  await page.goto(link);
  await waitForPath(page, '/ui/settings');
  await expectMessage(page, /successfully recovered your account/);

  const recovered = { ...account, password: newAccount().password };
  await changePassword(page, recovered.password);

  await logout(page);
  await loginRefused(page, account);
  await loginToApp(page, recovered);
  assert.equal(await shownIdentityId(page), await identityIdOf(stack.identityAdminUrl, account.email));
});

scenario('7. verification: the link in the sign-up email verifies the address', async ({ stack, page }) => {
  const account = newAccount();
  await registerFromApp(page, stack, account);

  const link = await emailLinkFor(stack.identityAdminUrl, account.email, 'verification');
  assert.ok(
    link.startsWith(`${stack.baseUrl}/.ory/kratos/public/self-service/verification?`),
    `the link goes through the gateway: ${link}`,
  );
  await page.goto(link);
  await waitForPath(page, '/ui/verification');
  await expectMessage(page, /Your email address is verified/);
  await screenshot(page, 'verification-done');

  const res = await request(`${stack.identityAdminUrl}/identities/${await identityIdOf(stack.identityAdminUrl, account.email)}`);
  const identity = (await res.body.json()) as { verifiable_addresses?: { value: string; verified: boolean }[] };
  assert.deepEqual(
    identity.verifiable_addresses?.map((a) => [a.value, a.verified]),
    [[account.email, true]],
  );
});

scenario('8. a deep link survives sign-in → sign up: the browser ends where it was going', async ({ stack, page }) => {
  const account = newAccount();
  await page.goto(`${stack.baseUrl}/echo/deep/link?x=1`);
  await waitForPath(page, '/ui/login');
  await register(page, account);
  await waitForPath(page, '/echo/deep/link');
  assert.equal(new URL(page.url()).search, '?x=1');
  const echo = JSON.parse((await page.locator('body').textContent()) ?? '') as { path: string; headers: Record<string, string> };
  assert.equal(echo.path, '/echo/deep/link?x=1');
  assert.equal(echo.headers['x-kratos-authenticated-identity-id'], await identityIdOf(stack.identityAdminUrl, account.email));
});

scenario('9. the signed-in browser opens a WebSocket to the app through the gateway; signed out it cannot', async ({ stack, page }) => {
  // Runs in the page (as source text: no DOM types here), so the browser's own cookies go along.
  const echoOnce = `new Promise((resolve) => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
    ws.onmessage = (e) => { resolve('echo:' + e.data); ws.close(); };
    ws.onopen = () => ws.send('ping');
    ws.onerror = () => resolve('error');
  })`;
  // The anonymous echo page has no CSP, so a refusal here is the gateway's, not the browser's.
  await page.goto(`${stack.baseUrl}/public/echo/`);
  assert.equal(await page.evaluate<string>(echoOnce), 'error', 'no session, no WebSocket');
  await registerFromApp(page, stack, newAccount());
  assert.equal(await page.evaluate<string>(echoOnce), 'echo:ping');
});

scenario(
  '10. the pages need no script, label every field, show focus, have readable contrast and fit a phone screen',
  async ({ stack, page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    for (const kind of ['login', 'registration', 'recovery']) {
      await page.goto(`${stack.baseUrl}/ui/${kind}`);
      await waitForPath(page, `/ui/${kind}`);
      assert.equal(await page.locator('script').count(), 0, `${kind}: no script`);
      // Browser-side checks are passed as source text: this project compiles without DOM types.
      const unlabelled = await page.evaluate<string[]>(
        `[...document.querySelectorAll('input:not([type="hidden"])')].filter((i) => i.labels.length === 0).map((i) => i.name)`,
      );
      assert.deepEqual(unlabelled, [], `${kind}: every input has a label`);
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.equal(overflow, 0, `${kind}: no horizontal scrolling at 360px`);
      assert.deepEqual(await lowContrastText(page), [], `${kind}: text contrast is at least 4.5:1`);

      await page.locator('input:not([type="hidden"])').first().focus();
      await page.keyboard.press('Tab');
      const outline = await page.evaluate<{ style: string; width: number }>(
        `(() => { const s = getComputedStyle(document.activeElement); return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) }; })()`,
      );
      assert.notEqual(outline.style, 'none', `${kind}: keyboard focus is visible`);
      assert.ok(outline.width >= 2, `${kind}: focus outline is at least 2px`);
    }
    await page.goto(`${stack.baseUrl}/ui/login`);
    await screenshot(page, 'login-phone');
  },
);
