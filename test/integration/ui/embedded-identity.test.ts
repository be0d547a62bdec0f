/**
 * The self-service UI against the real embedded identity server on loopback, driven like a
 * browser without one: a cookie jar, redirects followed by hand, forms submitted from the
 * rendered HTML. Proves the pages render its flows and that what they post is accepted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { request } from 'undici';
import { SettableClock, startIdentityServer, type IdentityServer } from '../../../src/identity/index.js';
import { createSelfServiceUi } from '../../../src/ui/index.js';
import { createLogger } from '../../../src/log.js';

const SCHEMA = pathToFileURL(resolve(fileURLToPath(import.meta.url), '../../../../config/identity.schema.json')).href;

let identity: IdentityServer;
const clock = new SettableClock();
let uiServer: http.Server;
let uiUrl = '';

before(async () => {
  // The UI needs Kratos's URL and Kratos needs the UI's: listen first, attach the app after.
  const attached: { app?: express.Express } = {};
  uiServer = http.createServer((req, res) => (attached.app ? attached.app(req, res) : res.writeHead(503).end()));
  await new Promise<void>((r) => uiServer.listen(0, '127.0.0.1', () => r()));
  uiUrl = `http://127.0.0.1:${(uiServer.address() as AddressInfo).port}`;
  const flows = Object.fromEntries(
    ['login', 'registration', 'settings', 'recovery', 'verification', 'error'].map((f) => [f, { ui_url: `${uiUrl}/ui/${f}` }]),
  );
  identity = await startIdentityServer({
    config: {
      selfservice: {
        default_browser_return_url: `${uiUrl}/`,
        whitelisted_return_urls: [uiUrl],
        methods: { password: { enabled: true } },
        flows: {
          ...flows,
          recovery: { ...flows.recovery, enabled: true },
          registration: { ...flows.registration, after: { password: { hooks: [{ hook: 'session' }] } } },
        },
      },
      secrets: { cookie: ['integration-test-secret-0123456789'] },
      identity: { default_schema_url: SCHEMA },
    },
    publicListen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    dsn: 'memory',
    logger: createLogger('silent'),
    clock,
  });
  const ui = express();
  ui.use(
    '/ui',
    createSelfServiceUi({
      prefix: '/ui',
      kratosPublicUrl: identity.publicUrl,
      browserKratosUrl: identity.publicUrl,
      logger: createLogger('silent'),
    }),
  );
  attached.app = ui;
});

after(async () => {
  await identity.close();
  uiServer.closeAllConnections();
  await new Promise((r) => uiServer.close(r));
});

/** A browser's cookie handling, reduced to name=value per jar (every server here is 127.0.0.1). */
class Browser {
  private cookies = new Map<string, string>();

  private header(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  private store(setCookie: string | string[] | undefined): void {
    for (const c of [setCookie ?? []].flat()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|max-age=-/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async send(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const cookie = this.header();
    const headers: Record<string, string> = { accept: 'text/html' };
    if (cookie) headers.cookie = cookie;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, {
      method: init.method ?? 'GET',
      headers,
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.store(res.headers['set-cookie']);
    const body = await res.body.text();
    const location = res.headers.location;
    return { status: res.statusCode, location: typeof location === 'string' ? new URL(location, url).href : undefined, body };
  }

  /** Follows redirects like a browser; returns the final page. */
  async open(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    let res = await this.send(url, init);
    let at = url;
    for (let hops = 0; res.location && res.status >= 300 && res.status < 400; hops++) {
      assert.ok(hops < 10, 'too many redirects');
      at = res.location;
      res = await this.send(at);
    }
    return { ...res, url: at };
  }
}

function unescapeAttr(v: string): string {
  return v
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#96;/g, '`')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The form of a rendered page (the first, or the one whose section heading matches) as action + fields. */
function formOf(page: string, section?: string): { action: string; fields: Record<string, string> } {
  const scope = section ? (page.split(`>${section}</h2>`)[1] ?? '') : page;
  const form = /<form[^>]* action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(scope);
  assert.ok(form, 'the page has a form');
  const fields: Record<string, string> = {};
  for (const m of (form[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    fields[unescapeAttr(m[1] ?? '')] = unescapeAttr(m[2] ?? '');
  return { action: unescapeAttr(form[1] ?? ''), fields };
}

async function register(b: Browser, email: string, password: string) {
  const page = await b.open(`${identity.publicUrl}/self-service/registration/browser`);
  const form = formOf(page.body);
  return b.open(form.action, { method: 'POST', form: { ...form.fields, 'traits.email': email, password, method: 'password' } });
}

test('a browser login flow lands on /ui/login, which renders its nodes as a bound, labelled form', async () => {
  const b = new Browser();
  const page = await b.open(`${identity.publicUrl}/self-service/login/browser`);
  const url = new URL(page.url);
  assert.equal(url.origin + url.pathname, `${uiUrl}/ui/login`);
  assert.equal(page.status, 200);
  const flowId = url.searchParams.get('flow') ?? '';
  const flow = (await (await request(`${identity.publicUrl}/self-service/login/flows?id=${flowId}`)).body.json()) as {
    ui: { action: string };
  };
  const form = formOf(page.body);
  assert.equal(form.action, flow.ui.action);
  assert.ok((form.fields.csrf_token ?? '').length > 40, 'the CSRF token is in the form');
  assert.match(
    page.body,
    /<label for="login-(password_)?identifier">[^<]+<\/label><input type="text" id="login-(password_)?identifier" name="(password_)?identifier"/,
  );
  assert.match(page.body, /<label for="login-password">Password<\/label><input type="password" id="login-password"/);
  assert.match(page.body, /<button type="submit" class="button" name="method" value="password">Sign in<\/button>/);
});

test('a wrong password posted from the rendered form comes back as the error, identifier kept', async () => {
  const b = new Browser();
  const email = `wrong.${Date.now()}@example.com`;
  await register(b, email, 'Integration-pass-9f8e7d');
  const anon = new Browser();
  const login = await anon.open(`${identity.publicUrl}/self-service/login/browser`);
  const form = formOf(login.body);
  const identifierName = /name="(password_identifier|identifier)"/.exec(login.body)?.[1] ?? 'password_identifier';
  const after = await anon.open(form.action, {
    method: 'POST',
    form: { ...form.fields, [identifierName]: email, password: 'not-the-password', method: 'password' },
  });
  assert.equal(new URL(after.url).pathname, '/ui/login');
  assert.match(after.body, /class="message message-error"[^>]*>The provided credentials are invalid/);
  assert.ok(after.body.includes(`value="${email}"`), 'the identifier is kept');
});

test('registration from the rendered form signs in; settings then renders profile and password forms', async () => {
  const b = new Browser();
  const email = `settings.${Date.now()}@example.com`;
  const landed = await register(b, email, 'Integration-pass-1a2b3c');
  assert.equal(landed.url, `${uiUrl}/`);
  const settings = await b.open(`${identity.publicUrl}/self-service/settings/browser`);
  assert.equal(new URL(settings.url).pathname, '/ui/settings');
  assert.ok(settings.body.includes(`name="traits.email" value="${email}"`));
  const password = formOf(settings.body, 'Change password');
  const saved = await b.open(password.action, {
    method: 'POST',
    form: { ...password.fields, password: 'Changed-pass-4d5e6f', method: 'password' },
  });
  assert.equal(new URL(saved.url).pathname, '/ui/settings');
  assert.match(saved.body, /Your changes have been saved!/);
});

test("an empty sign-up shows plain sentences on the page; the API keeps Kratos's texts", async () => {
  const b = new Browser();
  const page = await b.open(`${identity.publicUrl}/self-service/registration/browser`);
  const form = formOf(page.body);
  const after = await b.open(form.action, {
    method: 'POST',
    form: { ...form.fields, 'traits.email': '', password: '', method: 'password' },
  });
  const url = new URL(after.url);
  assert.equal(url.pathname, '/ui/registration');
  const shown = [...after.body.matchAll(/<li class="message message-error"[^>]*>([^<]*)<\/li>/g)].map((m) => m[1]);
  assert.deepEqual(shown.sort(), ['Enter a password.', 'Enter your email address.']);
  for (const raw of ['length must be', 'is not valid', 'is missing'])
    assert.ok(!after.body.includes(raw), `no validator text "${raw}" on the page`);
  // The flow as the API returns it is untouched: clients may match Kratos's own texts.
  const flow = (await (
    await request(`${identity.publicUrl}/self-service/registration/flows?id=${url.searchParams.get('flow') ?? ''}`)
  ).body.json()) as {
    ui: { nodes: Array<{ attributes: { name?: string }; messages: Array<{ id: number; text: string }> | null }> };
  };
  // v0.6 sends `messages: null` on nodes without any.
  const apiTexts = flow.ui.nodes.flatMap((n) => (n.messages ?? []).map((m) => `${n.attributes.name ?? ''}: ${m.text}`));
  assert.ok(apiTexts.includes('password: Property password is missing.'), apiTexts.join('\n'));
  assert.ok(
    apiTexts.some((t) => t.startsWith('traits.email: ') && /length must be|is not valid/.test(t)),
    apiTexts.join('\n'),
  );
});

test('/ui/settings without a session goes through settings init to the login page', async () => {
  const page = await new Browser().open(`${uiUrl}/ui/settings?flow=00000000-0000-4000-8000-000000000000`);
  assert.equal(new URL(page.url).pathname, '/ui/login');
});

test('an unknown flow id starts a new flow of the same kind', async () => {
  for (const kind of ['login', 'registration', 'recovery']) {
    const b = new Browser();
    const first = await b.send(`${uiUrl}/ui/${kind}?flow=00000000-0000-4000-8000-000000000000`);
    assert.equal(first.status, 302);
    assert.equal(first.location, `${identity.publicUrl}/self-service/${kind}/browser`);
    const page = await b.open(`${uiUrl}/ui/${kind}?flow=00000000-0000-4000-8000-000000000000`);
    assert.equal(new URL(page.url).pathname, `/ui/${kind}`);
    assert.notEqual(new URL(page.url).searchParams.get('flow'), '00000000-0000-4000-8000-000000000000');
  }
});

test('a submit without the CSRF token ends on the error page with the stored error', async () => {
  const b = new Browser();
  const login = await b.open(`${identity.publicUrl}/self-service/login/browser`);
  const form = formOf(login.body);
  const page = await b.open(form.action, {
    method: 'POST',
    form: { password_identifier: 'x@example.com', identifier: 'x@example.com', password: 'x', method: 'password' },
  });
  assert.equal(new URL(page.url).pathname, '/ui/error');
  assert.match(page.body, /<h1>Something went wrong<\/h1>/);
  assert.match(page.body, /class="message message-error">[^<]+/);
  assert.ok(!page.body.includes('could not find the details'), 'the stored error was found');
});

// Last in the file: it moves the shared clock two hours on.
test('an expired flow (past its 1h lifespan) starts a new one', async () => {
  const b = new Browser();
  const first = await b.open(`${identity.publicUrl}/self-service/login/browser`);
  const oldId = new URL(first.url).searchParams.get('flow');
  clock.advance(2 * 60 * 60 * 1000);
  const res = await b.send(first.url);
  assert.equal(res.status, 302);
  assert.equal(res.location, `${identity.publicUrl}/self-service/login/browser`);
  const again = await b.open(first.url);
  assert.equal(new URL(again.url).pathname, '/ui/login');
  assert.notEqual(new URL(again.url).searchParams.get('flow'), oldId);
  assert.equal(again.status, 200);
});
