/**
 * What a person does in the quickstart, as reusable browser steps. Fields are found by the
 * names Kratos gives them (v0.6 `password_identifier`, v1 `identifier`), buttons and links
 * by their visible text, so the steps also check the pages say what a user expects.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { request } from 'undici';

export const RESULTS_DIR = resolve(fileURLToPath(import.meta.url), '../../../../test-results');

export interface Account {
  email: string;
  password: string;
}

export function newAccount(): Account {
  const tag = randomBytes(4).toString('hex');
  // Long, random and unlike the email, so the password policy accepts it.
  return { email: `ada.${tag}@example.com`, password: `Quick-${randomBytes(8).toString('hex')}-start` };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true });
}

export async function waitForPath(page: Page, pathname: string): Promise<void> {
  await page.waitForURL((u) => u.pathname === pathname, { waitUntil: 'load' });
}

/** The visible messages of the page (form and field level), in order. */
export async function messages(page: Page): Promise<string[]> {
  return (await page.locator('.message').allTextContents()).map((t) => t.trim());
}

const IDENTIFIER = 'input[name="password_identifier"], input[name="identifier"]';

/** From the login page: follow "Sign up", fill every field of the form and submit. */
export async function register(page: Page, account: Account, onRegistrationPage?: (page: Page) => Promise<void>): Promise<void> {
  await page.getByRole('link', { name: 'Sign up' }).click();
  await waitForPath(page, '/ui/registration');
  assert.equal(await page.locator('h1').textContent(), 'Create an account');
  const fields = page.locator('form input:not([type="hidden"])');
  for (const field of await fields.all()) {
    const name = (await field.getAttribute('name')) ?? '';
    const type = (await field.getAttribute('type')) ?? 'text';
    if (name === 'password') await field.fill(account.password);
    else if (name === 'traits.email' || type === 'email') await field.fill(account.email);
    else if (name.endsWith('first')) await field.fill('Ada');
    else if (name.endsWith('last')) await field.fill('Lovelace');
    else if (type === 'text') await field.fill('Ada');
  }
  if (onRegistrationPage) await onRegistrationPage(page);
  await page.locator('form button[type="submit"]').click();
}

/** On the login page: fill the identifier and password and submit. */
export async function login(page: Page, account: Account): Promise<void> {
  await page.locator(IDENTIFIER).fill(account.email);
  await page.locator('input[name="password"]').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and expects to land on the app at `/`. */
export async function loginToApp(page: Page, account: Account): Promise<void> {
  await login(page, account);
  await waitForPath(page, '/');
}

/** Signs in and expects to stay on the login page with the invalid-credentials error. */
export async function loginRefused(page: Page, account: Account): Promise<void> {
  await login(page, account);
  await waitForPath(page, '/ui/login');
  await expectMessage(page, /The provided credentials are invalid/);
}

export function identifierField(page: Page) {
  return page.locator(IDENTIFIER);
}

/** On the demo app: the "Log out" link; the browser ends on the login page. */
export async function logout(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Log out' }).click();
  await waitForPath(page, '/ui/login');
}

/*
 * WCAG 2 contrast of every element that holds text against the first opaque background up
 * its ancestors, computed in the page from the styles the browser applied. Passed as source
 * text because this project compiles without DOM types.
 */
const LOW_CONTRAST_SCRIPT = `(() => {
  const parse = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '')) continue;
    const fg = parse(getComputedStyle(el).color);
    if (!fg) continue;
    const [hi, lo] = [lum(fg), lum(bgOf(el))].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) low.push(el.textContent.trim().slice(0, 40) + ' (' + ratio.toFixed(2) + ':1)');
  }
  return low;
})()`;

/** Text on the page whose contrast is below 4.5:1 (WCAG AA for normal text); empty when all is readable. */
export async function lowContrastText(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(LOW_CONTRAST_SCRIPT);
}

/** Asserts that one of the page's messages matches, listing them all when none does. */
export async function expectMessage(page: Page, pattern: RegExp): Promise<void> {
  const shown = await messages(page);
  assert.ok(
    shown.some((m) => pattern.test(m)),
    `expected a message matching ${pattern}; shown: ${shown.join(' | ') || '(none)'}`,
  );
}

/** On the settings page: fill the "Change password" section, save it, and see it saved. */
export async function changePassword(page: Page, password: string): Promise<void> {
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'Change password' }) });
  await section.locator('input[name="password"]').fill(password);
  await section.getByRole('button').click();
  await waitForPath(page, '/ui/settings');
  await expectMessage(page, /^Your changes have been saved!$/);
}

/** The identity id the identity admin API holds for an email address. */
export async function identityIdOf(adminUrl: string, email: string): Promise<string> {
  const res = await request(`${adminUrl}/identities`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.statusCode, 200);
  const identities = (await res.body.json()) as { id: string; traits: { email?: string } }[];
  const found = identities.find((i) => i.traits.email === email);
  assert.ok(found, `identity for ${email} exists`);
  return found.id;
}

interface CourierMessage {
  recipient?: string;
  subject?: string;
  body?: string;
}

/** Polls the identity admin API's courier messages until an email to `email` holds a `kind` link; returns the link. */
export async function emailLinkFor(adminUrl: string, email: string, kind: 'recovery' | 'verification'): Promise<string> {
  const deadline = Date.now() + 15_000;
  const pattern = new RegExp(`https?://[^\\s"'<>]+/self-service/${kind}\\?[^\\s"'<>]+`);
  let seen: CourierMessage[] = [];
  while (Date.now() < deadline) {
    const res = await request(`${adminUrl}/courier/messages`, { signal: AbortSignal.timeout(5_000) });
    seen = res.statusCode === 200 ? ((await res.body.json()) as CourierMessage[]) : (await res.body.dump(), []);
    for (const m of seen) {
      if (m.recipient !== email || typeof m.body !== 'string') continue;
      const link = pattern.exec(m.body)?.[0];
      if (link) return link.replace(/&amp;/g, '&');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ${kind} email for ${email}; courier messages: ${JSON.stringify(seen).slice(0, 2000)}`);
}
