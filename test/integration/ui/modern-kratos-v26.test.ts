/**
 * The self-service UI in a running gateway against a Kratos v26 public API (the fixture in
 * test/helpers/modern-kratos-flows.ts, whose every answer is validated against the v26.2.0
 * OpenAPI spec), driven like a browser without one: a cookie jar, redirects followed by hand,
 * forms submitted from the rendered HTML through the gateway's Kratos mount.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { assertV26Answer, startModernKratosFlows, GOOD_CODE, LOOKUP_CODES } from '../../helpers/modern-kratos-flows.js';
import { freePort, startTestGateway } from '../../helpers/servers.js';

let kratos: Awaited<ReturnType<typeof startModernKratosFlows>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let base = '';
let mount = '';

before(async () => {
  kratos = await startModernKratosFlows();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  mount = `${base}/.ory/kratos/public`;
  kratos.configure({ publicBase: mount, uiBase: `${base}/ui`, defaultReturn: `${base}/` });
  gw = await startTestGateway({
    proxy: { listen: { port }, public_base_url: base },
    kratos: { public_url: kratos.url },
    ui: { enabled: true },
    log: { access_log: false },
    routes: [{ name: 'app', match: { path_prefix: '/app' }, upstream: 'http://127.0.0.1:9' }],
  });
});

after(async () => {
  await gw.shutdown();
  await kratos.close();
});

/** A browser's cookie handling, reduced to name=value (every server here is 127.0.0.1). */
class Browser {
  readonly cookies = new Map<string, string>();

  private store(setCookie: string | string[] | undefined): void {
    for (const c of [setCookie ?? []].flat()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async send(url: string, form?: Record<string, string>) {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, {
      method: form ? 'POST' : 'GET',
      headers,
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    this.store(res.headers['set-cookie']);
    const body = await res.body.text();
    const location = res.headers.location;
    return {
      status: res.statusCode,
      location: typeof location === 'string' ? new URL(location, url).href : undefined,
      body,
      headers: res.headers,
    };
  }

  /** Follows redirects like a browser (a POST's 303 becomes a GET); returns the final answer. */
  async open(url: string, form?: Record<string, string>) {
    let res = await this.send(url, form);
    let at = url;
    const hops: string[] = [url];
    for (let n = 0; res.location && res.status >= 300 && res.status < 400; n++) {
      assert.ok(n < 10, 'too many redirects');
      at = res.location;
      hops.push(at);
      // The app behind the gateway is not part of this test: stop where the flow hands over.
      if (at === `${base}/` || at.startsWith(`${base}/app`)) return { ...res, status: 0, url: at, hops };
      res = await this.send(at);
    }
    return { ...res, url: at, hops };
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

/** The form of a page (the first, or the one under the given section heading): action and hidden fields. */
function formOf(page: string, section?: string): { action: string; fields: Record<string, string>; html: string } {
  const scope = section ? (page.split(`>${section}</h2>`)[1] ?? '').split('<section')[0]! : page;
  const form = /<form[^>]* action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(scope);
  assert.ok(form, `a form${section ? ` under "${section}"` : ''}`);
  const fields: Record<string, string> = {};
  for (const m of (form[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    fields[unescapeAttr(m[1] ?? '')] = unescapeAttr(m[2] ?? '');
  return { action: unescapeAttr(form[1] ?? ''), fields, html: form[2] ?? '' };
}

const pathOf = (url: string) => new URL(url).pathname;
const flowIdOf = (url: string) => new URL(url).searchParams.get('flow') ?? '';

async function signIn(b: Browser, email: string, password: string, returnTo?: string) {
  const init = `${mount}/self-service/login/browser${returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : ''}`;
  const page = await b.open(init);
  const form = formOf(page.body);
  return b.open(form.action, { ...form.fields, identifier: email, password, method: 'password' });
}

test('the fixture validator rejects what the v26.2.0 spec rejects', () => {
  const flow = {
    id: '7b0c8f1e-3a5d-4c2b-9e6f-1a2b3c4d5e6f',
    type: 'browser',
    expires_at: '2026-01-01T00:00:00Z',
    issued_at: '2026-01-01T00:00:00Z',
    request_url: 'http://k/self-service/login/browser',
    state: 'choose_method',
    ui: {
      action: 'http://k/self-service/login?flow=x',
      method: 'POST',
      nodes: [
        {
          type: 'input',
          group: 'default',
          attributes: { name: 'csrf_token', type: 'hidden', value: 't', disabled: false, node_type: 'input' },
          messages: [],
          meta: {},
        },
      ],
    },
  };
  assertV26Answer('GET', '/self-service/login/flows', 200, flow);
  const node = flow.ui.nodes[0]!;
  const bad = (nodes: unknown[]) => ({ ...flow, ui: { ...flow.ui, nodes } });
  const { meta: _meta, ...withoutMeta } = node;
  for (const [what, body] of [
    ['a node without meta (v0.6 omits it)', bad([withoutMeta])],
    ['input attributes without node_type (v0.6)', bad([{ ...node, attributes: { name: 'a', type: 'text', disabled: false } }])],
    [
      'a text node without an id',
      bad([{ ...node, type: 'text', attributes: { text: { id: 1, text: 'x', type: 'info' }, node_type: 'text' } }]),
    ],
    ['a flow without state', { ...flow, state: undefined }],
  ] as const)
    assert.throws(() => assertV26Answer('GET', '/self-service/login/flows', 200, body), /violates the v26\.2\.0 spec/, what);
  assert.throws(
    () => assertV26Answer('GET', '/self-service/login/flows', 410, { error: { message: 'gone', details: { elsewhere: 'x' } } }),
    /violates/,
  );
  assert.throws(() => assertV26Answer('GET', '/self-service/logout/browser', 200, { logout_url: 'http://k/l' }), /violates/);
  assert.throws(() => assertV26Answer('GET', '/self-service/logout/browser', 404, { error: { message: 'x' } }), /documents no 404/);
});

test('login: the v26 flow renders as one form posting to ui.action through the mount, CSRF token included', async () => {
  const b = new Browser();
  const page = await b.open(`${mount}/self-service/login/browser`);
  assert.equal(page.status, 200);
  assert.equal(pathOf(page.url), '/ui/login');
  const id = flowIdOf(page.url);
  const form = formOf(page.body);
  assert.equal(form.action, `${mount}/self-service/login?flow=${id}`);
  assert.equal(form.fields.csrf_token, kratos.flows.get(id)?.csrf);
  assert.match(page.body, /<h1>Sign in<\/h1>/);
  assert.match(
    page.body,
    /<label for="login-identifier">Email or username<\/label><input type="text" id="login-identifier" name="identifier" required/,
  );
  assert.match(page.body, /<input type="password" id="login-password" name="password" required autocomplete="current-password">/);
  assert.match(page.body, /<button type="submit" class="button" name="method" value="password">Sign in with password<\/button>/);
  assert.match(page.body, /<button type="submit" class="button" name="provider" value="github">Sign in with GitHub<\/button>/);
  assert.match(page.body, /href="[^"]*\/self-service\/registration\/browser">Sign up<\/a>/);
});

test('login: a wrong password comes back on the page as the error, identifier kept', async () => {
  const i = kratos.addIdentity();
  const b = new Browser();
  const after = await signIn(b, i.email, 'not-the-password');
  assert.equal(pathOf(after.url), '/ui/login');
  assert.match(after.body, /<li class="message message-error" data-message-id="4000006">The provided credentials are invalid/);
  assert.ok(after.body.includes(`name="identifier" value="${i.email}"`), 'the identifier is kept');
  assert.ok(!b.cookies.has('ory_kratos_session'));
});

test('login with TOTP: the password step leads to the aal2 flow, rendered as the second-factor form; its code signs in', async () => {
  const i = kratos.addIdentity({ totp: true });
  const b = new Browser();
  const returnTo = `${base}/app/dashboard`;
  const second = await signIn(b, i.email, i.password, returnTo);
  assert.equal(pathOf(second.url), '/ui/login');
  const flow = kratos.flows.get(flowIdOf(second.url));
  assert.equal(flow?.aal, 'aal2');
  assert.match(second.body, /<h1>Two-factor authentication<\/h1>/);
  assert.match(second.body, /Please complete the second authentication challenge\./);
  assert.match(second.body, /<input type="text" id="login-totp_code" name="totp_code" required autocomplete="one-time-code">/);
  assert.match(second.body, /<button type="submit" class="button" name="method" value="totp">Use Authenticator<\/button>/);
  assert.match(second.body, /<input type="text" id="login-lookup_secret" name="lookup_secret" required>/);
  assert.ok(!second.body.includes('name="password"'), 'no password field on the second step');
  assert.ok(!/>Sign up<\/a>/.test(second.body), 'no sign-up link while half signed in');
  assert.match(second.body, /<a href="\/ui\/logout">Log out<\/a>/);

  const form = formOf(second.body);
  const wrong = await b.open(form.action, { ...form.fields, totp_code: '000000', method: 'totp' });
  assert.equal(pathOf(wrong.url), '/ui/login');
  assert.match(wrong.body, /The provided authentication code is invalid/);

  const again = formOf(wrong.body);
  const done = await b.open(again.action, { ...again.fields, totp_code: GOOD_CODE, method: 'totp' });
  assert.equal(done.url, returnTo);
  assert.equal(kratos.sessions.get(b.cookies.get('ory_kratos_session') ?? '')?.aal, 'aal2');
});

test('login with a backup code from the same second-factor page', async () => {
  const i = kratos.addIdentity({ totp: true });
  const b = new Browser();
  const second = await signIn(b, i.email, i.password);
  const form = formOf(second.body);
  const done = await b.open(form.action, { ...form.fields, lookup_secret: LOOKUP_CODES[1]!, method: 'lookup_secret' });
  assert.equal(done.url, `${base}/`);
  assert.equal(kratos.sessions.get(b.cookies.get('ory_kratos_session') ?? '')?.aal, 'aal2');
});

test('registration: the two-screen v26 flow (profile, then password) submits from the rendered forms and signs in', async () => {
  const b = new Browser();
  const first = await b.open(`${mount}/self-service/registration/browser`);
  assert.equal(pathOf(first.url), '/ui/registration');
  assert.match(
    first.body,
    /<label for="registration-traits-email">E-Mail<\/label><input type="email" id="registration-traits-email" name="traits.email" required autocomplete="email">/,
  );
  assert.match(
    first.body,
    /<label for="registration-traits-name-first">First name<\/label><input type="text" id="registration-traits-name-first" name="traits.name.first">/,
  );
  const f1 = formOf(first.body);
  const email = `reg.${Date.now()}@example.com`;
  const secondScreen = await b.open(f1.action, { ...f1.fields, 'traits.email': email, 'traits.name.first': 'Grace', method: 'profile' });
  assert.equal(pathOf(secondScreen.url), '/ui/registration');
  const f2 = formOf(secondScreen.body);
  assert.equal(f2.fields['traits.email'], email, 'the traits ride along as hidden inputs');
  assert.match(
    secondScreen.body,
    /<input type="password" id="registration-password" name="password" required autocomplete="new-password">/,
  );
  assert.match(secondScreen.body, /<button type="submit" class="button" name="screen" value="credential-selection">Back<\/button>/);
  const done = await b.open(f2.action, { ...f2.fields, password: 'Registered-pass-42', method: 'password' });
  assert.equal(done.url, `${base}/`);
  assert.ok(b.cookies.has('ory_kratos_session'));
  assert.ok([...kratos.identities.values()].some((i) => i.email === email && i.first === 'Grace'));
});

test('settings: profile, password, TOTP (QR image and secret) and backup codes render as one form each; a save shows the message', async () => {
  const i = kratos.addIdentity();
  const b = new Browser();
  await signIn(b, i.email, i.password);
  const page = await b.open(`${mount}/self-service/settings/browser`);
  assert.equal(pathOf(page.url), '/ui/settings');
  for (const h of ['Profile', 'Change password', 'Authenticator app', 'Backup codes']) assert.ok(page.body.includes(`>${h}</h2>`), h);
  assert.equal([...page.body.matchAll(/<form /g)].length, 4);
  const profileForm = formOf(page.body, 'Profile');
  assert.ok(
    profileForm.html.includes(`id="settings-profile-traits-email" name="traits.email" value="${i.email}" required autocomplete="email">`),
  );
  assert.ok(profileForm.html.includes(`name="traits.name.first" value="${i.first}">`));
  const totp = formOf(page.body, 'Authenticator app');
  assert.match(totp.html, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="Authenticator app QR code"/);
  assert.match(totp.html, /This is your authenticator app secret\. Use it if you can not scan the QR code\./);
  assert.match(totp.html, />JBSWY3DPEHPK3PXP</);
  assert.match(totp.html, /name="totp_code"/);
  assert.ok(totp.fields.csrf_token, 'each form carries the CSRF token');
  const lookup = formOf(page.body, 'Backup codes');
  for (const code of LOOKUP_CODES) assert.match(lookup.html, new RegExp(`<li[^>]*>${code}</li>`), `backup code ${code} listed`);
  assert.match(lookup.html, /name="lookup_secret_confirm" value="true">Confirm backup recovery codes</);

  const profile = formOf(page.body, 'Profile');
  const saved = await b.open(profile.action, {
    ...profile.fields,
    'traits.email': i.email,
    'traits.name.first': 'Lovelace',
    method: 'profile',
  });
  assert.equal(pathOf(saved.url), '/ui/settings');
  assert.match(saved.body, /class="message message-success"[^>]*>Your changes have been saved!/);
  assert.equal(kratos.identities.get(i.id)?.first, 'Lovelace');

  const addTotp = formOf(saved.body, 'Authenticator app');
  await b.open(addTotp.action, { ...addTotp.fields, totp_code: GOOD_CODE, method: 'totp' });
  assert.equal(kratos.identities.get(i.id)?.totp, true);
});

test('WebAuthn needs JavaScript: no script and no dead button, a clear message instead, other methods intact', async (t) => {
  kratos.state.webauthn = true;
  t.after(() => (kratos.state.webauthn = false));
  const i = kratos.addIdentity();
  const b = new Browser();
  const login = await b.open(`${mount}/self-service/login/browser`);
  assert.equal(pathOf(login.url), '/ui/login');
  assert.ok(
    kratos.flows.get(flowIdOf(login.url))?.nodes.some((n) => n.type === 'script'),
    'the flow offers WebAuthn',
  );
  for (const absent of ['<script', 'webauthn_login_trigger', 'onclick', 'webauthn.js']) assert.ok(!login.body.includes(absent), absent);
  assert.match(login.body, /class="message message-info"[^>]*>[^<]*need JavaScript[^<]*another/);
  assert.match(login.body, /name="method" value="password"/);

  await b.open(formOf(login.body).action, { ...formOf(login.body).fields, identifier: i.email, password: i.password, method: 'password' });
  const settings = await b.open(`${mount}/self-service/settings/browser`);
  assert.equal(pathOf(settings.url), '/ui/settings');
  for (const absent of ['<script', 'webauthn_register_trigger', 'onclick']) assert.ok(!settings.body.includes(absent), absent);
  const section = settings.body.split('>Security keys</h2>')[1]?.split('<section')[0] ?? '';
  assert.ok(section !== '', 'the security keys section is there');
  assert.ok(!section.includes('<form'), 'without a form that could not work');
  assert.match(section, /need JavaScript/);
});

test('recovery with the code method: email, then the code form, then settings with the recovered session', async () => {
  const i = kratos.addIdentity();
  const b = new Browser();
  const page = await b.open(`${mount}/self-service/recovery/browser`);
  assert.equal(pathOf(page.url), '/ui/recovery');
  assert.match(page.body, /<input type="email" id="recovery-email" name="email" required autocomplete="email">/);
  const f1 = formOf(page.body);
  const sent = await b.open(f1.action, { ...f1.fields, email: i.email, method: 'code' });
  assert.equal(pathOf(sent.url), '/ui/recovery');
  assert.match(sent.body, /An email containing a recovery code has been sent/);
  assert.match(sent.body, /<input type="text" id="recovery-code" name="code" required pattern="\[0-9\]\+" maxlength="6"/);
  assert.match(
    sent.body,
    new RegExp(`<button type="submit" class="button" name="email" value="${i.email.replace(/[.]/g, '\\.')}">Resend code</button>`),
  );
  const f2 = formOf(sent.body);
  const settings = await b.open(f2.action, { ...f2.fields, code: GOOD_CODE, method: 'code' });
  assert.equal(pathOf(settings.url), '/ui/settings');
  assert.match(
    settings.body,
    /You successfully recovered your account\. Please change your password or set up an alternative login method \(e\.g\. social sign in\) within the next 15 minutes\./,
  );
});

test('verification with the code method ends on a page with Kratos’s success message once and its Continue link', async () => {
  const b = new Browser();
  const returnTo = `${base}/app/welcome`;
  const page = await b.open(`${mount}/self-service/verification/browser?${new URLSearchParams({ return_to: returnTo })}`);
  assert.equal(pathOf(page.url), '/ui/verification');
  const f1 = formOf(page.body);
  const sent = await b.open(f1.action, { ...f1.fields, email: 'v@example.com', method: 'code' });
  assert.match(sent.body, /An email containing a verification code has been sent/);
  const f2 = formOf(sent.body);
  const done = await b.open(f2.action, { ...f2.fields, code: GOOD_CODE, method: 'code' });
  assert.equal(pathOf(done.url), '/ui/verification');
  assert.equal([...done.body.matchAll(/class="message message-success"/g)].length, 1, 'one success message');
  assert.match(done.body, /You successfully verified your email address\./);
  assert.ok(done.body.includes(`<a href="${returnTo}">Continue</a>`), 'the Continue link');
  assert.ok(!done.body.includes('<form'), 'no form to resubmit');
});

test('an expired flow (410 self_service_flow_expired) starts a new one and keeps its return_to', async () => {
  const b = new Browser();
  const returnTo = `${base}/app/deep/link?x=1`;
  const page = await b.open(`${mount}/self-service/login/browser?${new URLSearchParams({ return_to: returnTo })}`);
  const oldId = flowIdOf(page.url);
  kratos.expire(oldId);
  const res = await b.send(page.url);
  assert.equal(res.status, 302);
  assert.equal(res.location, `${mount}/self-service/login/browser?${new URLSearchParams({ return_to: returnTo })}`);
  const again = await b.open(page.url);
  assert.equal(pathOf(again.url), '/ui/login');
  assert.notEqual(flowIdOf(again.url), oldId);
  assert.equal(kratos.flows.get(flowIdOf(again.url))?.returnTo, returnTo);
});

test('a flow fetched without its CSRF cookie (403) or unknown (404) starts a new flow', async () => {
  const b = new Browser();
  const page = await b.open(`${mount}/self-service/registration/browser`);
  const stranger = new Browser();
  const res = await stranger.send(page.url);
  assert.equal(res.status, 302);
  assert.equal(res.location, `${mount}/self-service/registration/browser`);
  const unknown = await b.send(`${base}/ui/registration?flow=00000000-0000-4000-8000-000000000000`);
  assert.equal(unknown.location, `${mount}/self-service/registration/browser`);
});

test('a submit without the CSRF token lands on the error page with the v26 error', async () => {
  const b = new Browser();
  const page = await b.open(`${mount}/self-service/login/browser`);
  const form = formOf(page.body);
  const err = await b.open(form.action, { identifier: 'x@example.com', password: 'x', method: 'password' });
  assert.equal(pathOf(err.url), '/ui/error');
  assert.ok(new URL(err.url).searchParams.get('id'), 'v1 sends ?id=');
  assert.match(err.body, /<h1>Something went wrong<\/h1>/);
  assert.match(err.body, /the request was rejected to protect you from Cross-Site-Request-Forgery/);
  assert.match(err.body, /Code 403 \(Forbidden\)/);
  const gone = await b.open(`${base}/ui/error?id=00000000-0000-4000-8000-000000000000`);
  assert.match(gone.body, /could not find the details/);
});

test('settings without a session goes through settings init to the login page', async () => {
  const page = await new Browser().open(`${base}/ui/settings?flow=00000000-0000-4000-8000-000000000000`);
  assert.equal(pathOf(page.url), '/ui/login');
  assert.ok(kratos.flows.get(flowIdOf(page.url))?.returnTo?.endsWith('/self-service/settings/browser'));
});

test('a settings flow answered 403 session_aal2_required restarts, and Kratos sends the browser to the second factor', async () => {
  const i = kratos.addIdentity({ totp: true });
  const b = new Browser();
  const second = await signIn(b, i.email, i.password);
  const f = formOf(second.body);
  await b.open(f.action, { ...f.fields, totp_code: GOOD_CODE, method: 'totp' });
  const settings = await b.open(`${mount}/self-service/settings/browser`);
  assert.equal(pathOf(settings.url), '/ui/settings');
  // The session falls back to aal1 (Kratos: a new first-factor login on this browser).
  const token = b.cookies.get('ory_kratos_session') ?? '';
  kratos.sessions.set(token, { identityId: i.id, aal: 'aal1' });
  const res = await b.send(settings.url);
  assert.equal(res.status, 302);
  assert.equal(res.location, `${mount}/self-service/settings/browser`);
  const page = await b.open(settings.url);
  assert.equal(pathOf(page.url), '/ui/login');
  assert.match(page.body, /<h1>Two-factor authentication<\/h1>/);
});

test('logout uses the v1 two-step logout: /ui/logout → logout_url on the mount → session gone', async () => {
  const i = kratos.addIdentity();
  const b = new Browser();
  await signIn(b, i.email, i.password);
  const token = b.cookies.get('ory_kratos_session') ?? '';
  assert.ok(kratos.sessions.has(token));
  const first = await b.send(`${base}/ui/logout`);
  assert.equal(first.status, 302);
  assert.match(first.location ?? '', new RegExp(`^${mount.replace(/[.]/g, '\\.')}/self-service/logout\\?token=ory_lo_`));
  const done = await b.open(`${base}/ui/logout`);
  assert.equal(done.url, `${base}/`);
  assert.ok(!kratos.sessions.has(token), 'the session ended');
  assert.ok(!b.cookies.has('ory_kratos_session'));
});

test('logout without a session on v1 does not send the browser to the v0.6 logout route (a 404 there)', async () => {
  const res = await new Browser().send(`${base}/ui/logout`);
  assert.equal(res.status, 302);
  assert.ok(!(res.location ?? '').includes('/self-service/browser/flows/logout'), res.location);
  assert.equal(res.location, `${mount}/self-service/login/browser`);
});

// Last: checks what every test above made the fixture send.
test('every answer the fixture sent matched the v26.2.0 spec; the UI sent only documented query parameters', () => {
  assert.deepEqual(kratos.state.violations, []);
  // `error=` is the v0.6 name of the error id, sent alongside `id=`; v1 ignores it.
  assert.deepEqual([...new Set(kratos.state.undocumentedQuery)], ['GET /self-service/errors?error']);
  for (const op of [
    'GET /self-service/login/flows',
    'GET /self-service/errors',
    'GET /self-service/logout/browser',
    'POST /self-service/settings',
  ])
    assert.ok(kratos.state.calls.includes(op), op);
});
