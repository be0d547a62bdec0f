/**
 * Contract: the official @ory/kratos-client@0.6.3-alpha.1 drives every public operation through
 * API flows, and every JSON body is validated against the v0.6.3 OpenAPI response schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AdminApi, Configuration, PublicApi } from '@ory/kratos-client';
import type { AxiosError, AxiosResponse } from 'axios';
import {
  assertIdentityList,
  assertResponse,
  assertSchema,
  Browser,
  validating,
  courierMessages,
  flowIdFrom,
  lastLinkTo,
  messageIds,
  nodeOf,
  registerBrowser,
  SCHEMA_FILE,
  startTestServer,
  UI,
  type TestServer,
} from './helpers.js';

let t: TestServer;
let pub: PublicApi;
let admin: AdminApi;

before(async () => {
  t = await startTestServer();
  pub = validating(new PublicApi(new Configuration({ basePath: t.publicUrl })));
  admin = validating(new AdminApi(new Configuration({ basePath: t.adminUrl })));
});
after(() => t.close());

/** The axios error response of a call that must fail. */
async function failure(p: Promise<unknown>): Promise<AxiosResponse> {
  try {
    await p;
  } catch (e) {
    const res = (e as AxiosError).response;
    assert.ok(res, `expected an HTTP error response, got ${String(e)}`);
    return res;
  }
  assert.fail('expected the call to fail');
}

async function register(email: string, password = 'a-long-enough-passphrase'): Promise<{ token: string; identityId: string }> {
  const flow = await pub.initializeSelfServiceRegistrationForNativeApps();
  const res = await pub.submitSelfServiceRegistrationFlow(flow.data.id, { method: 'password', password, traits: { email } } as never);
  assertSchema('registrationViaApiResponse', res.data);
  return { token: res.data.session_token, identityId: res.data.identity.id };
}

async function login(identifier: string, password: string) {
  const flow = await pub.initializeSelfServiceLoginForNativeApps();
  return pub.submitSelfServiceLoginFlow(flow.data.id, { method: 'password', password_identifier: identifier, password } as never);
}

describe('spec validation', () => {
  it('is not vacuous: drifted bodies fail', async () => {
    const flow = (await pub.initializeSelfServiceLoginForNativeApps()).data as unknown as Record<string, unknown>;
    const url = `${t.publicUrl}/self-service/login/flows?id=${String(flow.id)}`;
    assertResponse('GET', url, 200, flow);
    const { ui: _ui, ...withoutUi } = flow;
    assert.throws(() => assertResponse('GET', url, 200, withoutUi), /matches none/);
    assert.throws(() => assertResponse('GET', url, 200, { ...flow, issued_at: 'yesterday' }), /matches none/);
    assert.throws(() => assertResponse('GET', `${t.publicUrl}/sessions/whoami`, 401, { error: { code: 401 } }), /matches none/);
  });
});

describe('browser initialisation through the official client', () => {
  it('answers every browser init with a 302 to the configured UI and sets the CSRF cookie', async () => {
    for (const [kind, call] of [
      ['login', () => pub.initializeSelfServiceLoginForBrowsers(false, { maxRedirects: 0 })],
      ['registration', () => pub.initializeSelfServiceRegistrationForBrowsers({ maxRedirects: 0 })],
      ['recovery', () => pub.initializeSelfServiceRecoveryForBrowsers({ maxRedirects: 0 })],
      ['verification', () => pub.initializeSelfServiceVerificationForBrowsers({ maxRedirects: 0 })],
    ] as const) {
      const res = await failure(call());
      assert.equal(res.status, 302, kind);
      flowIdFrom(res.headers.location, `${UI}/${kind}`);
      assert.match(String(res.headers['set-cookie']), /_csrf_token=/);
    }
    const settings = await failure(pub.initializeSelfServiceSettingsForBrowsers({ maxRedirects: 0 }));
    assert.equal(settings.headers.location, `${UI}/login`);
    const logout = await failure(pub.initializeSelfServiceBrowserLogoutFlow({ maxRedirects: 0 }));
    assert.equal(logout.status, 302);
    assert.equal(logout.headers.location, `${UI}/bye`);
  });
});

describe('schemas, errors and health', () => {
  it('serves the identity schema as stored and 404s unknown ids', async () => {
    const res = await pub.getSchema('default');
    assertSchema('jsonSchema', res.data);
    assert.deepEqual(res.data, JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
    const missing = await failure(pub.getSchema('nope'));
    assert.equal(missing.status, 404);
    assertSchema('jsonError', missing.data);
  });

  it('returns the stub:500 error container, and 403 for unknown errors on the public port', async () => {
    const res = await pub.getSelfServiceError('stub:500');
    assertSchema('selfServiceErrorContainer', res.data);
    assert.equal((res.data.errors[0] as { code: number }).code, 500);
    const unknown = await failure(pub.getSelfServiceError('5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70'));
    assert.equal(unknown.status, 403);
    assertSchema('jsonError', unknown.data);
    const adminUnknown = await failure(admin.getSelfServiceError('5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70'));
    assert.equal(adminUnknown.status, 404);
  });

  it('answers health checks on both ports', async () => {
    assert.equal((await admin.isAlive()).data.status, 'ok');
    assert.equal((await admin.getVersion()).data.version, 'v0.6.3-alpha.1');
    assert.equal((await admin.isReady()).data.status, 'ok');
    const b = new Browser();
    assert.equal((await b.get(`${t.publicUrl}/health/alive`)).json.status, 'ok');
    assert.equal((await b.get(`${t.publicUrl}/health/ready`)).json.status, 'ok');
  });
});

describe('registration (API)', () => {
  it('initialises a flow with v0.6 node order and an empty csrf token', async () => {
    const res = await pub.initializeSelfServiceRegistrationForNativeApps();
    assertSchema('registrationFlow', res.data);
    assert.equal(res.data.type, 'api');
    assert.deepEqual(
      res.data.ui.nodes.map((n) => (n.attributes as { name: string }).name),
      ['csrf_token', 'traits.email', 'password', 'traits.name.first', 'traits.name.last', 'method'],
    );
    assert.equal((nodeOf(res.data as never, 'csrf_token').attributes as { value?: string }).value, '');
    assert.equal(res.data.ui.action, `${t.publicUrl}/self-service/registration?flow=${res.data.id}`);
    assert.equal(res.headers['cache-control'], 'private, no-cache, no-store, must-revalidate');
    const fetched = await pub.getSelfServiceRegistrationFlow(res.data.id);
    assertSchema('registrationFlow', fetched.data);
    assert.equal(fetched.data.id, res.data.id);
  });

  it('registers with the session hook: token, session and identity', async () => {
    const flow = await pub.initializeSelfServiceRegistrationForNativeApps();
    const res = await pub.submitSelfServiceRegistrationFlow(flow.data.id, {
      method: 'password',
      password: 'a-long-enough-passphrase',
      traits: { email: 'Reg.User@Example.com', name: { first: 'Reg', last: 'User' } },
    } as never);
    assertSchema('registrationViaApiResponse', res.data);
    assert.match(res.data.session_token, /^[A-Za-z0-9]{32}$/);
    assert.equal(res.data.identity.traits.email, 'Reg.User@Example.com');
    assert.equal(res.data.identity.verifiable_addresses?.[0]?.value, 'reg.user@example.com');
    assert.equal(res.data.identity.verifiable_addresses?.[0]?.status, 'sent');
    assert.equal(res.data.session?.identity.id, res.data.identity.id);
    const who = await pub.toSession(res.data.session_token);
    assert.equal(who.data.identity.id, res.data.identity.id);
  });

  it('reports missing traits, weak passwords and duplicates with v0.6 message ids', async () => {
    const flow = await pub.initializeSelfServiceRegistrationForNativeApps();
    const missing = await failure(
      pub.submitSelfServiceRegistrationFlow(flow.data.id, { method: 'password', password: 'whatever-long-1', traits: {} } as never),
    );
    assert.equal(missing.status, 400);
    assertSchema('registrationFlow', missing.data);
    assert.equal(nodeOf(missing.data, 'traits.email').messages?.[0]?.id, 4000002);

    const weak = await failure(
      pub.submitSelfServiceRegistrationFlow(flow.data.id, {
        method: 'password',
        password: 'abc',
        traits: { email: 'weak@example.com' },
      } as never),
    );
    assert.equal(weak.status, 400);
    assertSchema('registrationFlow', weak.data);
    assert.equal(nodeOf(weak.data, 'password').messages?.[0]?.id, 4000005);
    assert.equal((nodeOf(weak.data, 'traits.email').attributes as { value?: string }).value, 'weak@example.com');

    const similar = await failure(
      pub.submitSelfServiceRegistrationFlow(flow.data.id, {
        method: 'password',
        password: 'similar@example.com1',
        traits: { email: 'similar@example.com' },
      } as never),
    );
    assert.match(nodeOf(similar.data, 'password').messages?.[0]?.text ?? '', /too similar/);

    await register('dupe@example.com');
    const flow2 = await pub.initializeSelfServiceRegistrationForNativeApps();
    const dupe = await failure(
      pub.submitSelfServiceRegistrationFlow(flow2.data.id, {
        method: 'password',
        password: 'another-passphrase-9',
        traits: { email: 'DUPE@example.com' },
      } as never),
    );
    assert.equal(dupe.status, 400);
    assertSchema('registrationFlow', dupe.data);
    assert.deepEqual(messageIds(dupe.data), [4000007]);
  });

  it('refuses to register or start registration with a valid session', async () => {
    const { token } = await register('already@example.com');
    const res = await failure(pub.initializeSelfServiceRegistrationForNativeApps({ headers: { 'X-Session-Token': token } }));
    assert.equal(res.status, 400);
    assertSchema('jsonError', res.data);
    assert.match(res.data.error.reason, /valid session was detected/);
  });

  it('rejects an unknown method with 4010003 and a missing flow parameter with 400', async () => {
    const flow = await pub.initializeSelfServiceRegistrationForNativeApps();
    const res = await failure(pub.submitSelfServiceRegistrationFlow(flow.data.id, { method: 'oidc' } as never));
    assert.equal(res.status, 400);
    assert.deepEqual(messageIds(res.data), [4010003]);
    const bad = await failure(pub.submitSelfServiceRegistrationFlow('not-a-uuid', { method: 'password' } as never));
    assert.equal(bad.status, 400);
    assertSchema('jsonError', bad.data);
    assert.equal(bad.data.error.reason, 'The flow query parameter is missing or malformed.');
  });
});

describe('login, whoami and revocation (API)', () => {
  it('logs in, answers whoami with the identity header, then 401 after revocation', async () => {
    const { identityId } = await register('login@example.com', 'login-passphrase-42');
    const init = await pub.initializeSelfServiceLoginForNativeApps();
    assertSchema('loginFlow', init.data);
    assert.equal(init.data.forced, false);
    assert.deepEqual(
      init.data.ui.nodes.map((n) => (n.attributes as { name: string }).name),
      ['csrf_token', 'password_identifier', 'password', 'method'],
    );
    const res = await pub.submitSelfServiceLoginFlow(init.data.id, {
      method: 'password',
      password_identifier: 'LOGIN@example.com',
      password: 'login-passphrase-42',
    } as never);
    assertSchema('loginViaApiResponse', res.data);
    assert.match(res.data.session_token, /^[A-Za-z0-9]{32}$/);
    assert.equal(res.headers['set-cookie'], undefined);

    const who = await pub.toSession(res.data.session_token);
    assertSchema('session', who.data);
    assert.equal(who.headers['x-kratos-authenticated-identity-id'], identityId);
    assert.equal(who.data.active, true);
    assert.equal(Date.parse(who.data.expires_at) - Date.parse(who.data.authenticated_at), 24 * 3600 * 1000);
    // whoami splices its body from stored JSON text; it must be byte-for-byte the document login returned.
    const raw = await new Browser().get(`${t.publicUrl}/sessions/whoami`, { 'x-session-token': res.data.session_token });
    assert.equal(raw.text, JSON.stringify(res.data.session));
    const bearer = await pub.toSession(undefined, { headers: { Authorization: `bearer ${res.data.session_token}` } });
    assert.equal(bearer.data.id, who.data.id);

    const revoked = await pub.revokeSession({ session_token: res.data.session_token });
    assert.equal(revoked.status, 204);
    const after = await failure(pub.toSession(res.data.session_token));
    assert.equal(after.status, 401);
    assertSchema('jsonError', after.data);
    assert.deepEqual(after.data, {
      error: {
        code: 401,
        status: 'Unauthorized',
        reason: 'No valid session cookie found.',
        message: 'The request could not be authorized',
      },
    });
    const unknown = await failure(pub.revokeSession({ session_token: 'doesnotexist' }));
    assert.equal(unknown.status, 404);
    assertSchema('jsonError', unknown.data);
  });

  it('answers 4000006 for a wrong password or unknown identifier, keeping the identifier', async () => {
    await register('wrongpw@example.com', 'right-passphrase-42');
    for (const [id, pw] of [
      ['wrongpw@example.com', 'wrong-passphrase'],
      ['nobody@example.com', 'right-passphrase-42'],
    ] as const) {
      const res = await failure(login(id, pw));
      assert.equal(res.status, 400);
      assertSchema('loginFlow', res.data);
      assert.deepEqual(messageIds(res.data), [4000006]);
      assert.equal((nodeOf(res.data, 'password_identifier').attributes as { value?: string }).value, id);
      assert.equal((nodeOf(res.data, 'password').attributes as { value?: string }).value, undefined);
      assert.equal(res.data.active, 'password');
    }
  });

  it('refuses a second login without refresh, and forces one with refresh=true', async () => {
    const { token } = await register('refresh@example.com', 'refresh-passphrase-42');
    const refused = await failure(pub.initializeSelfServiceLoginForNativeApps(false, { headers: { 'X-Session-Token': token } }));
    assert.equal(refused.status, 400);
    assert.match(refused.data.error.reason, /refresh=true/);
    const forced = await pub.initializeSelfServiceLoginForNativeApps(true, { headers: { 'X-Session-Token': token } });
    assertSchema('loginFlow', forced.data);
    assert.equal(forced.data.forced, true);
  });

  it('rejects API-flow submits carrying Cookie or Origin (CSRF rule)', async () => {
    await register('csrfapi@example.com', 'csrf-passphrase-42');
    for (const header of ['Cookie', 'Origin'] as const) {
      const flow = await pub.initializeSelfServiceLoginForNativeApps();
      const res = await failure(
        pub.submitSelfServiceLoginFlow(
          flow.data.id,
          { method: 'password', password_identifier: 'csrfapi@example.com', password: 'csrf-passphrase-42' } as never,
          {
            headers: { [header]: header === 'Cookie' ? 'a=b' : 'http://evil.test' },
          },
        ),
      );
      assert.equal(res.status, 400);
      assertSchema('loginFlow', res.data);
      assert.equal(res.data.ui.messages[0].id, 4000001);
      assert.match(res.data.ui.messages[0].text, new RegExp(`"${header}"`));
    }
  });

  it('answers 410 for an expired flow and restarts it on submit', async () => {
    const flow = await pub.initializeSelfServiceLoginForNativeApps();
    t.clock.advance(11 * 60_000);
    const gone = await failure(pub.getSelfServiceLoginFlow(flow.data.id));
    assert.equal(gone.status, 410);
    assertSchema('jsonError', gone.data);
    assert.equal(gone.data.error.details.api, `${t.publicUrl}/self-service/login/api`);
    // The server answers 302 to the new flow's fetch URL, which the client follows.
    const direct = await pub
      .submitSelfServiceLoginFlow(flow.data.id, { method: 'password', password_identifier: 'a', password: 'b' } as never)
      .catch((e: AxiosError) => e.response);
    assert.ok(direct);
    assert.equal(direct.status, 200);
    assertSchema('loginFlow', direct.data);
    assert.notEqual((direct.data as { id: string }).id, flow.data.id);
    assert.deepEqual(messageIds(direct.data as never), [4010001]);
    const missing = await failure(pub.getSelfServiceLoginFlow('5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70'));
    assert.equal(missing.status, 404);
    assertSchema('jsonError', missing.data);
  });
});

describe('settings (API)', () => {
  it('needs a session: 403 on init without one', async () => {
    const res = await failure(pub.initializeSelfServiceSettingsForNativeApps());
    assert.equal(res.status, 403);
    assertSchema('jsonError', res.data);
    const fetch = await failure(pub.getSelfServiceSettingsFlow('5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70'));
    assert.equal(fetch.status, 401);
  });

  it('updates the profile and the password, and the new password logs in', async () => {
    const { token, identityId } = await register('settings@example.com', 'old-passphrase-42');
    const init = await pub.initializeSelfServiceSettingsForNativeApps(token);
    assertSchema('settingsFlow', init.data);
    assert.equal(init.data.state, 'show_form');
    assert.equal(init.data.identity.id, identityId);
    assert.deepEqual(
      init.data.ui.nodes.map((n) => `${n.group}:${(n.attributes as { name: string }).name}`),
      [
        'default:csrf_token',
        'profile:traits.email',
        'profile:traits.name.first',
        'profile:traits.name.last',
        'profile:method',
        'password:password',
        'password:method',
      ],
    );
    assert.equal((nodeOf(init.data as never, 'traits.email').attributes as { value?: string }).value, 'settings@example.com');
    const fetched = await pub.getSelfServiceSettingsFlow(init.data.id, token);
    assertSchema('settingsFlow', fetched.data);

    const profile = await pub.submitSelfServiceSettingsFlow(init.data.id, token, {
      method: 'profile',
      traits: { email: 'settings@example.com', name: { first: 'Set', last: 'Tings' } },
    } as never);
    assertSchema('settingsViaApiResponse', profile.data);
    assert.equal(profile.data.flow.state, 'success');
    assert.deepEqual(messageIds(profile.data.flow as never), [1050001]);
    assert.deepEqual(profile.data.identity.traits.name, { first: 'Set', last: 'Tings' });

    const pw = await pub.submitSelfServiceSettingsFlow(init.data.id, token, { method: 'password', password: 'new-passphrase-43' } as never);
    assertSchema('settingsViaApiResponse', pw.data);
    assert.equal((await login('settings@example.com', 'new-passphrase-43')).status, 200);
    const old = await failure(login('settings@example.com', 'old-passphrase-42'));
    assert.deepEqual(messageIds(old.data), [4000006]);
  });

  it('refuses a password change with a session older than privileged_session_max_age, but allows a name change', async () => {
    const { token } = await register('oldsession@example.com', 'old-session-pass-1');
    t.clock.advance(16 * 60_000);
    const init = await pub.initializeSelfServiceSettingsForNativeApps(token);
    const pw = await failure(
      pub.submitSelfServiceSettingsFlow(init.data.id, token, { method: 'password', password: 'another-pass-2' } as never),
    );
    assert.equal(pw.status, 403);
    assertSchema('jsonError', pw.data);
    assert.match(pw.data.error.reason, /too old/);
    const email = await failure(
      pub.submitSelfServiceSettingsFlow(init.data.id, token, { method: 'profile', traits: { email: 'changed@example.com' } } as never),
    );
    assert.equal(email.status, 403);
    const name = await pub.submitSelfServiceSettingsFlow(init.data.id, token, {
      method: 'profile',
      traits: { email: 'oldsession@example.com', name: { first: 'Still' } },
    } as never);
    assert.equal(name.status, 200);
    assert.deepEqual(name.data.identity.traits.name, { first: 'Still' });
  });

  it('blocks another identity from a settings flow', async () => {
    const a = await register('owner@example.com');
    const b = await register('intruder@example.com');
    const flow = await pub.initializeSelfServiceSettingsForNativeApps(a.token);
    const res = await failure(pub.getSelfServiceSettingsFlow(flow.data.id, b.token));
    assert.equal(res.status, 403);
    assert.match(res.data.error.reason, /another identity/);
  });
});

describe('recovery and verification (API, link method)', () => {
  it('sends a recovery link without revealing whether the address exists', async () => {
    await register('recover@example.com');
    const bodies: unknown[] = [];
    for (const email of ['recover@example.com', 'unknown-person@example.com']) {
      const init = await pub.initializeSelfServiceRecoveryForNativeApps();
      assertSchema('recoveryFlow', init.data);
      assert.equal(init.data.state, 'choose_method');
      const res = await pub.submitSelfServiceRecoveryFlowWithLinkMethod(undefined, init.data.id, { method: 'link', email } as never);
      assert.equal(res.status, 200);
      assertSchema('recoveryFlow', res.data);
      const flow = res.data as unknown as { state: string; active: string; ui: { messages: Array<{ id: number }> } };
      assert.equal(flow.state, 'sent_email');
      assert.equal(flow.active, 'link');
      bodies.push({ state: flow.state, messages: flow.ui.messages });
      const fetched = await pub.getSelfServiceRecoveryFlow(init.data.id);
      assertSchema('recoveryFlow', fetched.data);
    }
    assert.deepEqual(bodies[0], bodies[1]);
    const msgs = await courierMessages(t.adminUrl);
    const valid = msgs.filter((m) => m.recipient === 'recover@example.com' && m.template_type === 'recovery_valid');
    assert.equal(valid.length, 1);
    assert.equal(valid[0]?.subject, 'Recover access to your account');
    assert.match(valid[0]?.body ?? '', new RegExp(`${t.publicUrl}/self-service/recovery\\?token=[A-Za-z0-9]{32}&flow=`));
    const invalid = msgs.find((m) => m.recipient === 'unknown-person@example.com');
    assert.equal(invalid?.subject, 'Account access attempted');
    assert.equal(invalid?.type, 'email');

    // Using the link: the recovery flow passes the challenge and its messages are cleared
    // (v0.6.3 strategy_recovery.go recoveryIssueSession); the success text lives on the settings flow.
    const link = await lastLinkTo(t.adminUrl, 'recover@example.com');
    const flowId = new URL(link).searchParams.get('flow') ?? '';
    assert.deepEqual(messageIds((await pub.getSelfServiceRecoveryFlow(flowId)).data as never), [1060002]);
    const click = await new Browser().get(link);
    const settingsId = flowIdFrom(click.location, `${UI}/settings`);
    const recovered = await pub.getSelfServiceRecoveryFlow(flowId);
    assert.equal(recovered.data.state, 'passed_challenge');
    assert.deepEqual(messageIds(recovered.data as never), []);
    assert.deepEqual(messageIds((await admin.getSelfServiceSettingsFlow(settingsId)).data as never), [1060001]);
  });

  it('accepts the v0.6 base submit path too, and reports a missing email with 4000002', async () => {
    const init = await pub.initializeSelfServiceRecoveryForNativeApps();
    const res = await failure(pub.submitSelfServiceRecoveryFlow(init.data.id, { method: 'link' }));
    assert.equal(res.status, 400);
    assertSchema('recoveryFlow', res.data);
    assert.equal(nodeOf(res.data, 'email').messages?.[0]?.id, 4000002);
  });

  it('verifies an address through the emailed link; a reused link restarts the flow with 4070001', async () => {
    const { identityId } = await register('verify@example.com');
    const init = await pub.initializeSelfServiceVerificationForNativeApps();
    assertSchema('verificationFlow', init.data);
    const res = await pub.submitSelfServiceVerificationFlow(init.data.id, { method: 'link', email: 'verify@example.com' });
    assertSchema('verificationFlow', res.data);
    assert.deepEqual(messageIds(res.data as never), [1070001]);
    const link = await lastLinkTo(t.adminUrl, 'verify@example.com');
    assert.ok(link.startsWith(`${t.publicUrl}/self-service/verification?flow=${init.data.id}&token=`));
    const b = new Browser();
    const click = await b.get(link);
    assert.equal(click.status, 302);
    // No return_to and no verification.after URL configured: back to the verification UI.
    assert.equal(click.location, `${UI}/verification?flow=${init.data.id}`);
    const identity = await admin.getIdentity(identityId);
    assertSchema('identity', identity.data);
    assert.equal(identity.data.verifiable_addresses?.[0]?.verified, true);
    assert.equal(identity.data.verifiable_addresses?.[0]?.status, 'completed');
    const flow = await pub.getSelfServiceVerificationFlow(init.data.id);
    assert.equal(flow.data.state, 'passed_challenge');
    // v0.6.3 (strategy_verification.go verificationUseToken) clears the container messages, so
    // "An email … has been sent" is gone; v0.6 has no "successfully verified" text yet (v0.7+).
    assert.deepEqual(messageIds(flow.data as never), []);
    const again = await b.get(link);
    const newId = flowIdFrom(again.location, `${UI}/verification`);
    const restarted = await pub.getSelfServiceVerificationFlow(newId);
    assert.deepEqual(messageIds(restarted.data as never), [4070001]);
  });

  it('answers 404 (not null) for an unknown verification flow', async () => {
    const res = await failure(pub.getSelfServiceVerificationFlow('5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70'));
    assert.equal(res.status, 404);
    assertSchema('jsonError', res.data);
  });
});

describe('admin API', () => {
  it('creates, lists, gets, updates and deletes identities', async () => {
    const created = await admin.createIdentity({ schema_id: 'default', traits: { email: 'admin-made@example.com' } });
    assert.equal(created.status, 201);
    assertSchema('identity', created.data);
    assert.equal(created.data.recovery_addresses?.[0]?.value, 'admin-made@example.com');
    const dup = await failure(admin.createIdentity({ schema_id: 'default', traits: { email: 'admin-made@example.com' } }));
    assert.equal(dup.status, 409);
    assertSchema('jsonError', dup.data);
    const invalid = await failure(admin.createIdentity({ schema_id: 'default', traits: { email: 'no' } }));
    assert.equal(invalid.status, 400);
    assertSchema('jsonError', invalid.data);

    const list = await admin.listIdentities();
    assertIdentityList(list.data);
    assert.ok(list.data.some((i) => i.id === created.data.id));
    const got = await admin.getIdentity(created.data.id);
    assert.deepEqual(got.data, created.data);

    const updated = await admin.updateIdentity(created.data.id, { traits: { email: 'admin-changed@example.com', name: { first: 'Ad' } } });
    assertSchema('identity', updated.data);
    assert.equal(updated.data.verifiable_addresses?.[0]?.value, 'admin-changed@example.com');
    assert.equal(updated.data.verifiable_addresses?.length, 1);

    assert.equal((await admin.deleteIdentity(created.data.id)).status, 204);
    assert.equal((await failure(admin.getIdentity(created.data.id))).status, 404);
    assert.equal((await failure(admin.deleteIdentity(created.data.id))).status, 404);
  });

  it('creates a recovery link that logs the user in and opens a settings flow', async () => {
    const { identityId } = await register('adminlink@example.com');
    const res = await admin.createRecoveryLink({ identity_id: identityId, expires_in: '30m' });
    assertSchema('recoveryLink', res.data);
    assert.match(res.data.recovery_link, new RegExp(`^${t.publicUrl}/self-service/recovery\\?token=[A-Za-z0-9]{32}&flow=`));
    assert.equal(Date.parse(res.data.expires_at ?? '') - t.clock.now().getTime(), 30 * 60_000);
    const b = new Browser();
    const click = await b.get(res.data.recovery_link);
    flowIdFrom(click.location, `${UI}/settings`);
    const who = await b.getJson(`${t.publicUrl}/sessions/whoami`);
    assert.equal(who.status, 200);
    assert.equal(who.json.identity.id, identityId);
    const missing = await failure(admin.createRecoveryLink({ identity_id: '5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70' }));
    assert.equal(missing.status, 404);
  });
});

describe('admin API flow fetches', () => {
  const UNKNOWN = '5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70';

  // kratos-selfservice-ui-node v0.6.3-alpha.1 fetches every flow, settings included, from the
  // admin port without credentials (the spec tags these operations public and admin).
  it('serves every self-service flow by id without credentials; 404 for unknown ids, 410 once expired', async () => {
    const { token, identityId } = await register('adminfetch@example.com');
    const b = new Browser();
    await registerBrowser(t, b, 'adminfetch-browser@example.com', 'a-long-enough-passphrase');
    const browserSettingsId = flowIdFrom((await b.get(`${t.publicUrl}/self-service/settings/browser`)).location, `${UI}/settings`);
    const browserOwner = (await b.getJson(`${t.publicUrl}/sessions/whoami`)).json.identity.id as string;

    const fetches = [
      {
        kind: 'login',
        schema: 'loginFlow',
        id: (await pub.initializeSelfServiceLoginForNativeApps()).data.id,
        get: (id: string) => admin.getSelfServiceLoginFlow(id),
      },
      {
        kind: 'registration',
        schema: 'registrationFlow',
        id: (await pub.initializeSelfServiceRegistrationForNativeApps()).data.id,
        get: (id: string) => admin.getSelfServiceRegistrationFlow(id),
      },
      {
        kind: 'recovery',
        schema: 'recoveryFlow',
        id: (await pub.initializeSelfServiceRecoveryForNativeApps()).data.id,
        get: (id: string) => admin.getSelfServiceRecoveryFlow(id),
      },
      {
        kind: 'verification',
        schema: 'verificationFlow',
        id: (await pub.initializeSelfServiceVerificationForNativeApps()).data.id,
        get: (id: string) => admin.getSelfServiceVerificationFlow(id),
      },
      {
        kind: 'settings',
        schema: 'settingsFlow',
        id: (await pub.initializeSelfServiceSettingsForNativeApps(token)).data.id,
        get: (id: string) => admin.getSelfServiceSettingsFlow(id),
      },
      { kind: 'settings', schema: 'settingsFlow', id: browserSettingsId, get: (id: string) => admin.getSelfServiceSettingsFlow(id) },
    ];
    for (const f of fetches) {
      const res = await f.get(f.id);
      assert.equal(res.status, 200, `${f.kind} on the admin port`);
      assert.equal(res.config.url?.startsWith(t.adminUrl), true);
      assertSchema(f.schema, res.data);
      assert.equal(res.data.id, f.id);
      const missing = await failure(f.get(UNKNOWN));
      assert.equal(missing.status, 404, `${f.kind}: unknown id`);
      assertSchema('jsonError', missing.data);
    }
    const apiSettings = (await admin.getSelfServiceSettingsFlow(fetches[4]?.id ?? '')).data;
    assert.equal(apiSettings.identity.id, identityId);
    assert.equal(apiSettings.type, 'api');
    const browserSettings = (await admin.getSelfServiceSettingsFlow(browserSettingsId)).data;
    assert.equal(browserSettings.identity.id, browserOwner);
    assert.equal(browserSettings.type, 'browser');
    // The admin port needs no session, but the public port still does.
    assert.equal((await failure(pub.getSelfServiceSettingsFlow(browserSettingsId))).status, 401);

    // Every flow lifespan here is at most 1h (login 10m).
    t.clock.advance(61 * 60_000);
    for (const f of fetches) {
      const gone = await failure(f.get(f.id));
      assert.equal(gone.status, 410, `${f.kind}: expired`);
      assertSchema('jsonError', gone.data);
      const details = gone.data.error.details as Record<string, string>;
      if (f.id === browserSettingsId) assert.equal(details.redirect_to, `${t.publicUrl}/self-service/settings/browser`);
      else assert.equal(details.api, `${t.publicUrl}/self-service/${f.kind}/api`);
    }
  });
});
