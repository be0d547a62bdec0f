/**
 * Browser flows driven like a browser: cookie jar, form posts, CSRF tokens, 302s to the UI,
 * including the failure cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertSchema,
  Browser,
  csrfOf,
  flowIdFrom,
  lastLinkTo,
  loginBrowser,
  messageIds,
  nodeOf,
  registerBrowser,
  startTestServer,
  UI,
  type TestServer,
} from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const csrfCookieName = () => `${Buffer.from(`${t.publicUrl}/`).toString('base64url')}_csrf_token`;

async function browserFlow(b: Browser, kind: string) {
  const init = await b.get(`${t.publicUrl}/self-service/${kind}/browser`);
  assert.equal(init.status, 302);
  const id = flowIdFrom(init.location, `${UI}/${kind}`);
  const res = await b.getJson(`${t.publicUrl}/self-service/${kind}/flows?id=${id}`);
  assert.equal(res.status, 200);
  return res.json;
}

describe('registration and login (browser)', () => {
  it('sets the Kratos-named CSRF cookie, registers, and sets the session cookie', async () => {
    const b = new Browser();
    const init = await b.get(`${t.publicUrl}/self-service/registration/browser`);
    assert.equal(init.status, 302);
    const csrfCookie = init.setCookies.find((c) => c.startsWith(`${csrfCookieName()}=`));
    assert.ok(csrfCookie, 'CSRF cookie named base64url(base_url)_csrf_token');
    assert.match(csrfCookie, /HttpOnly/);
    assert.match(csrfCookie, /Domain=127\.0\.0\.1/);
    assert.match(csrfCookie, /Path=\//);
    assert.doesNotMatch(csrfCookie, /Secure/, 'plain-http base_url: no Secure flag');
    const flowId = flowIdFrom(init.location, `${UI}/registration`);
    const flow = (await b.getJson(`${t.publicUrl}/self-service/registration/flows?id=${flowId}`)).json;
    assertSchema('registrationFlow', flow);
    assert.equal(flow.type, 'browser');
    assert.equal(Buffer.from(csrfOf(flow), 'base64').length, 64);
    const verification = await browserFlow(b, 'verification');

    const res = await b.postForm(`${t.publicUrl}/self-service/registration?flow=${flowId}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      'traits.email': 'browser@example.com',
      'traits.name.first': 'Bro',
      password: 'browser-passphrase-1',
    });
    assert.equal(res.status, 302);
    assert.equal(res.location, `${UI}/`);
    const sessionCookie = res.setCookies.find((c) => c.startsWith('ory_kratos_session='));
    assert.ok(sessionCookie);
    assert.match(sessionCookie, /HttpOnly/);
    assert.match(sessionCookie, /SameSite=Lax/);
    assert.match(sessionCookie, /Max-Age=86400/);
    const rotated = res.setCookies.find((c) => c.startsWith(`${csrfCookieName()}=`));
    assert.ok(rotated, 'signing in rotates the CSRF secret');
    assert.notEqual(rotated.split(';')[0], csrfCookie.split(';')[0]);
    // Verification has no session check, so it shows the CSRF outcome directly.
    const stale = await b.postForm(`${t.publicUrl}/self-service/verification?flow=${verification.id}`, {
      method: 'link',
      csrf_token: csrfOf(verification),
      email: 'browser@example.com',
    });
    assert.ok(stale.location?.startsWith(`${UI}/error?error=`), 'a token from before sign-in no longer passes');
    const who = await b.getJson(`${t.publicUrl}/sessions/whoami`);
    assert.equal(who.status, 200);
    assertSchema('session', who.json);
    assert.equal(who.json.identity.traits.email, 'browser@example.com');
    assert.equal(who.headers['cache-control'], undefined, 'whoami carries no Cache-Control');

    const again = await b.get(`${t.publicUrl}/self-service/registration/browser`);
    assert.equal(again.location, `${UI}/`, 'a logged-in browser is sent to the default return URL');
  });

  it('forwards a missing or invalid CSRF token to the error UI as a 403', async () => {
    const b = new Browser();
    const flow = await browserFlow(b, 'login');
    for (const token of [undefined, Buffer.alloc(64, 7).toString('base64')]) {
      const form: Record<string, string> = { method: 'password', password_identifier: 'x@example.com', password: 'whatever-pass' };
      if (token) form.csrf_token = token;
      const res = await b.postForm(`${t.publicUrl}/self-service/login?flow=${flow.id}`, form);
      assert.equal(res.status, 302);
      assert.ok(res.location?.startsWith(`${UI}/error?error=`), res.location);
      const errorId = new URL(res.location ?? '').searchParams.get('error') ?? '';
      const container = await b.getJson(`${t.publicUrl}/self-service/errors?error=${errorId}`);
      assert.equal(container.status, 200);
      assertSchema('selfServiceErrorContainer', container.json);
      assert.equal(container.json.errors[0].code, 403);
      assert.equal(container.json.errors[0].reason, 'A request failed due to a missing or invalid csrf_token value.');
    }
    const json = await b.postJson(`${t.publicUrl}/self-service/login?flow=${flow.id}`, { method: 'password', csrf_token: 'bogus' });
    assert.equal(json.status, 403);
    assertSchema('jsonError', json.json);
  });

  it('a token from another browser does not pass', async () => {
    const victim = new Browser();
    const attacker = new Browser();
    const flow = await browserFlow(victim, 'login');
    await browserFlow(attacker, 'login');
    const res = await attacker.postForm(`${t.publicUrl}/self-service/login?flow=${flow.id}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      password_identifier: 'x@example.com',
      password: 'whatever-pass',
    });
    assert.ok(res.location?.startsWith(`${UI}/error?error=`));
  });

  it('sends a wrong password back to the login UI with 4000006 on the same flow', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'wrong-browser@example.com', 'right-browser-pass-1');
    const fresh = new Browser();
    const res = await loginBrowser(t, fresh, 'wrong-browser@example.com', 'not-the-password');
    const id = flowIdFrom(res.location, `${UI}/login`);
    const flow = (await fresh.getJson(`${t.publicUrl}/self-service/login/flows?id=${id}`)).json;
    assertSchema('loginFlow', flow);
    assert.deepEqual(messageIds(flow), [4000006]);
    assert.equal(nodeOf(flow, 'password_identifier').attributes.value, 'wrong-browser@example.com');
    assert.equal(fresh.jar.has('ory_kratos_session'), false);
  });

  it('reports a duplicate email with 4000007', async () => {
    await registerBrowser(t, new Browser(), 'twice@example.com', 'twice-passphrase-1');
    const b = new Browser();
    const flow = await browserFlow(b, 'registration');
    const res = await b.postForm(`${t.publicUrl}/self-service/registration?flow=${flow.id}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      'traits.email': 'Twice@Example.com',
      password: 'twice-passphrase-2',
    });
    const id = flowIdFrom(res.location, `${UI}/registration`);
    assert.equal(id, flow.id);
    const again = (await b.getJson(`${t.publicUrl}/self-service/registration/flows?id=${id}`)).json;
    assert.deepEqual(messageIds(again), [4000007]);
    assert.equal(nodeOf(again, 'traits.email').attributes.value, 'Twice@Example.com');
  });

  it('restarts an expired flow with 4010001 and answers 410 with redirect_to on fetch', async () => {
    const b = new Browser();
    const flow = await browserFlow(b, 'login');
    t.clock.advance(10 * 60_000 + 1);
    const fetch = await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${flow.id}`);
    assert.equal(fetch.status, 410);
    assertSchema('jsonError', fetch.json);
    assert.equal(fetch.json.error.details.redirect_to, `${t.publicUrl}/self-service/login/browser`);
    const res = await b.postForm(`${t.publicUrl}/self-service/login?flow=${flow.id}`, { method: 'password', csrf_token: csrfOf(flow) });
    const newId = flowIdFrom(res.location, `${UI}/login`);
    assert.notEqual(newId, flow.id);
    const fresh = (await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${newId}`)).json;
    assert.equal(fresh.ui.messages[0].id, 4010001);
  });

  it('logs in to an allowed return_to, refuses a foreign one, and answers JSON clients with the session', async () => {
    const b = new Browser();
    await registerBrowser(t, new Browser(), 'returnto@example.com', 'returnto-pass-123');
    const ok = await loginBrowser(t, b, 'returnto@example.com', 'returnto-pass-123', `?return_to=${encodeURIComponent(`${UI}/app/page`)}`);
    assert.equal(ok.location, `${UI}/app/page`);

    const evil = await loginBrowser(
      t,
      new Browser(),
      'returnto@example.com',
      'returnto-pass-123',
      `?return_to=${encodeURIComponent('https://evil.test/app')}`,
    );
    assert.ok(evil.location?.startsWith(`${UI}/error?error=`), evil.location);

    const j = new Browser();
    const flow = await browserFlow(j, 'login');
    const res = await j.postJson(`${t.publicUrl}/self-service/login?flow=${flow.id}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      password_identifier: 'returnto@example.com',
      password: 'returnto-pass-123',
    });
    assert.equal(res.status, 200);
    assertSchema('session', res.json);
    assert.ok(j.jar.has('ory_kratos_session'));
  });

  it('logs out: revokes the session, clears the cookie, redirects to the logout URL', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'logout@example.com', 'logout-passphrase-1');
    const cookie = b.cookieHeader() ?? '';
    const res = await b.get(`${t.publicUrl}/self-service/browser/flows/logout`);
    assert.equal(res.status, 302);
    assert.equal(res.location, `${UI}/bye`);
    assert.ok(res.setCookies.some((c) => c.startsWith('ory_kratos_session=;')));
    assert.equal(b.jar.has('ory_kratos_session'), false);
    const replay = await b.get(`${t.publicUrl}/sessions/whoami`, { cookie });
    assert.equal(replay.status, 401, 'the old cookie no longer works');
  });

  it('logs out the session of a Bearer token when one is sent, and forwards an unknown one as 404', async () => {
    const api = new Browser();
    const flow = (await api.getJson(`${t.publicUrl}/self-service/login/api`)).json;
    await registerBrowser(t, new Browser(), 'bearer-logout@example.com', 'bearer-passphrase-1');
    const login = await api.postJson(`${t.publicUrl}/self-service/login?flow=${flow.id}`, {
      method: 'password',
      password_identifier: 'bearer-logout@example.com',
      password: 'bearer-passphrase-1',
    });
    const token = login.json.session_token as string;
    const out = await api.get(`${t.publicUrl}/self-service/browser/flows/logout`, { authorization: `Bearer ${token}` });
    assert.equal(out.location, `${UI}/bye`);
    assert.equal((await api.get(`${t.publicUrl}/sessions/whoami`, { 'x-session-token': token })).status, 401);
    const b = new Browser();
    const unknown = await b.get(`${t.publicUrl}/self-service/browser/flows/logout`, { authorization: 'Bearer nope' });
    assert.ok(unknown.location?.startsWith(`${UI}/error?error=`));
    const err = await b.getJson(`${t.publicUrl}/self-service/errors?error=${new URL(unknown.location ?? '').searchParams.get('error')}`);
    assert.equal(err.json.errors[0].code, 404);
  });

  it('honours an allowed return_to on registration and logout, and refuses a foreign one on logout', async () => {
    const b = new Browser();
    const init = await b.get(`${t.publicUrl}/self-service/registration/browser?return_to=${encodeURIComponent(`${UI}/app/welcome`)}`);
    const id = flowIdFrom(init.location, `${UI}/registration`);
    const flow = (await b.getJson(`${t.publicUrl}/self-service/registration/flows?id=${id}`)).json;
    const done = await b.postForm(`${t.publicUrl}/self-service/registration?flow=${id}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      'traits.email': 'returnto-reg@example.com',
      password: 'a-wholly-different-phrase',
    });
    assert.equal(done.location, `${UI}/app/welcome`);
    const evil = await b.get(`${t.publicUrl}/self-service/browser/flows/logout?return_to=${encodeURIComponent('https://evil.test/')}`);
    assert.ok(evil.location?.startsWith(`${UI}/error?error=`), evil.location);
    assert.equal((await b.getJson(`${t.publicUrl}/sessions/whoami`)).status, 200, 'a refused logout changes nothing');
    const out = await b.get(`${t.publicUrl}/self-service/browser/flows/logout?return_to=${encodeURIComponent(`${UI}/app/bye`)}`);
    assert.equal(out.location, `${UI}/app/bye`);
    assert.equal((await b.getJson(`${t.publicUrl}/sessions/whoami`)).status, 401);
  });

  it('expires sessions at expires_at', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'expiry@example.com', 'expiry-passphrase-1');
    const who = await b.getJson(`${t.publicUrl}/sessions/whoami`);
    t.clock.set(new Date(Date.parse(who.json.expires_at) - 1));
    assert.equal((await b.getJson(`${t.publicUrl}/sessions/whoami`)).status, 200);
    t.clock.set(new Date(Date.parse(who.json.expires_at)));
    assert.equal((await b.getJson(`${t.publicUrl}/sessions/whoami`)).status, 401);
  });

  it('rejects a tampered session cookie', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'tamper@example.com', 'tamper-passphrase-1');
    const value = b.jar.get('ory_kratos_session') ?? '';
    const [token] = value.split('.');
    const forged = await b.get(`${t.publicUrl}/sessions/whoami`, { cookie: `ory_kratos_session=${token}.AAAA` });
    assert.equal(forged.status, 401);
  });
});

describe('settings (browser)', () => {
  it('re-authenticates a too-old session and resumes the paused password change', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'resume@example.com', 'resume-passphrase-1');
    t.clock.advance(16 * 60_000);
    const flow = await browserFlow(b, 'settings');
    assertSchema('settingsFlow', flow);
    const res = await b.postForm(`${t.publicUrl}/self-service/settings?flow=${flow.id}`, {
      method: 'password',
      csrf_token: csrfOf(flow),
      password: 'resume-passphrase-2',
    });
    assert.equal(res.status, 302);
    const loc = new URL(res.location ?? '');
    assert.equal(`${loc.origin}${loc.pathname}`, `${t.publicUrl}/self-service/login/browser`);
    assert.equal(loc.searchParams.get('refresh'), 'true');
    assert.equal(loc.searchParams.get('return_to'), `${t.publicUrl}/self-service/settings?flow=${flow.id}`);

    // The old password still works: nothing was changed yet.
    const relog = await b.get(res.location ?? '');
    const loginId = flowIdFrom(relog.location, `${UI}/login`);
    const loginFlow = (await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${loginId}`)).json;
    assert.equal(loginFlow.forced, true);
    assert.equal(nodeOf(loginFlow, 'password_identifier').attributes.value, 'resume@example.com');
    const done = await b.postForm(`${t.publicUrl}/self-service/login?flow=${loginId}`, {
      method: 'password',
      csrf_token: csrfOf(loginFlow),
      password_identifier: 'resume@example.com',
      password: 'resume-passphrase-1',
    });
    assert.equal(done.location, `${t.publicUrl}/self-service/settings?flow=${flow.id}`);
    const resumed = await b.get(done.location ?? '');
    assert.equal(resumed.location, `${UI}/settings?flow=${flow.id}`);
    const after = (await b.getJson(`${t.publicUrl}/self-service/settings/flows?id=${flow.id}`)).json;
    assert.equal(after.state, 'success');
    assert.deepEqual(messageIds(after), [1050001]);
    const check = await loginBrowser(t, new Browser(), 'resume@example.com', 'resume-passphrase-2');
    assert.equal(check.location, `${UI}/`);
  });

  it('sends a browser without a session to the login UI', async () => {
    const res = await new Browser().get(`${t.publicUrl}/self-service/settings/browser`);
    assert.equal(res.location, `${UI}/login`);
  });
});

describe('recovery (browser)', () => {
  it('recovers through the emailed link, then refuses the used link with 4060004', async () => {
    await registerBrowser(t, new Browser(), 'lost@example.com', 'lost-passphrase-1');
    const b = new Browser();
    const flow = await browserFlow(b, 'recovery');
    assertSchema('recoveryFlow', flow);
    const sent = await b.postForm(`${t.publicUrl}/self-service/recovery?flow=${flow.id}`, {
      method: 'link',
      csrf_token: csrfOf(flow),
      email: 'lost@example.com',
    });
    assert.equal(flowIdFrom(sent.location, `${UI}/recovery`), flow.id);
    const link = await lastLinkTo(t.adminUrl, 'lost@example.com');

    const click = await b.get(link);
    const settingsId = flowIdFrom(click.location, `${UI}/settings`);
    assert.ok(b.jar.has('ory_kratos_session'));
    const settings = (await b.getJson(`${t.publicUrl}/self-service/settings/flows?id=${settingsId}`)).json;
    assertSchema('settingsFlow', settings);
    assert.equal(settings.ui.messages[0].id, 1060001);
    const change = await b.postForm(`${t.publicUrl}/self-service/settings?flow=${settingsId}`, {
      method: 'password',
      csrf_token: csrfOf(settings),
      password: 'found-passphrase-2',
    });
    assert.equal(change.location, `${UI}/settings?flow=${settingsId}`);
    assert.equal((await loginBrowser(t, new Browser(), 'lost@example.com', 'found-passphrase-2')).location, `${UI}/`);

    const reuse = await new Browser().get(link);
    const retryId = flowIdFrom(reuse.location, `${UI}/recovery`);
    const retry = (await new Browser().getJson(`${t.publicUrl}/self-service/recovery/flows?id=${retryId}`)).json;
    assert.deepEqual(messageIds(retry), [4060004]);
  });

  it('refuses an expired recovery link with 4060005', async () => {
    await registerBrowser(t, new Browser(), 'late@example.com', 'late-passphrase-1');
    const b = new Browser();
    const flow = await browserFlow(b, 'recovery');
    await b.postForm(`${t.publicUrl}/self-service/recovery?flow=${flow.id}`, {
      method: 'link',
      csrf_token: csrfOf(flow),
      email: 'late@example.com',
    });
    const link = await lastLinkTo(t.adminUrl, 'late@example.com');
    t.clock.advance(61 * 60_000);
    const click = await b.get(link);
    const id = flowIdFrom(click.location, `${UI}/recovery`);
    const retry = (await b.getJson(`${t.publicUrl}/self-service/recovery/flows?id=${id}`)).json;
    assert.deepEqual(messageIds(retry), [4060005]);
    assert.equal(b.jar.has('ory_kratos_session'), false);
  });

  it('sends a logged-in browser away from recovery', async () => {
    const b = new Browser();
    await registerBrowser(t, b, 'notlost@example.com', 'notlost-passphrase-1');
    const res = await b.get(`${t.publicUrl}/self-service/recovery/browser`);
    assert.equal(res.location, `${UI}/`);
  });
});
