/**
 * Unauthenticated input that feeds quadratic work (the password/identifier
 * similarity check) is bounded before that work runs, and refused with Kratos-style messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, nodeOf, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

// The payload of the issue: a 32 KB password and an 8 KB email.
const HUGE_PASSWORD = 'Zq9!' + 'k'.repeat(32_000);
const HUGE_EMAIL = 'b'.repeat(8000) + '@example.test';

async function registerApi(password: string, email: string) {
  const c = new Browser();
  const flow = (await c.getJson(`${t.publicUrl}/self-service/registration/api`)).json;
  return c.postJson(`${t.publicUrl}/self-service/registration?flow=${flow.id}`, { method: 'password', password, traits: { email } });
}

function messagesOf(res: { json: { ui: { nodes: unknown[] } } }, name: string) {
  return nodeOf(res.json, name).messages ?? [];
}

describe('registration input bounds (API flow)', () => {
  it('refuses a password over 1024 characters with the password-policy message', async () => {
    const res = await registerApi(HUGE_PASSWORD, 'long-password@example.com');
    assert.equal(res.status, 400);
    assert.deepEqual(
      messagesOf(res, 'password').map((m) => ({ id: m.id, text: m.text })),
      [
        {
          id: 4000005,
          text: `The password can not be used because password length must be at most 1024 characters but got ${HUGE_PASSWORD.length}.`,
        },
      ],
    );
  });

  it('accepts a password of exactly 1024 characters', async () => {
    const res = await registerApi('Zq9!' + 'x'.repeat(1020), 'max-password@example.com');
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  it('refuses a login identifier over 255 characters even though the schema sets no maxLength', async () => {
    const res = await registerApi('a-fine-passphrase-9', HUGE_EMAIL);
    assert.equal(res.status, 400);
    assert.deepEqual(
      messagesOf(res, 'traits.email').map((m) => ({ id: m.id, text: m.text })),
      [{ id: 4000001, text: `length must be <= 255, but got ${HUGE_EMAIL.length}` }],
    );
    assert.deepEqual(messagesOf(res, 'password'), []);
  });

  it('refuses the issue payload (both oversized) on the identifier, before the password policy runs', async () => {
    const res = await registerApi(HUGE_PASSWORD, HUGE_EMAIL);
    assert.equal(res.status, 400);
    assert.deepEqual(
      messagesOf(res, 'traits.email').map((m) => m.id),
      [4000001],
    );
    const ids = (await new Browser().getJson(`${t.adminUrl}/identities`)).json.map((i: { traits: { email: string } }) => i.traits.email);
    assert.ok(!ids.includes(HUGE_EMAIL));
  });

  it('still refuses a password too similar to the identifier', async () => {
    const res = await registerApi('similar-bound@example.com1', 'similar-bound@example.com');
    assert.equal(res.status, 400);
    assert.match(messagesOf(res, 'password')[0]?.text ?? '', /too similar to the user identifier/);
  });
});

describe('settings input bounds (API flow)', () => {
  it('refuses a new password over 1024 characters', async () => {
    const reg = await registerApi('a-completely-other-phrase-7', 'settings-bound@example.com');
    assert.equal(reg.status, 200);
    const token = String(reg.json.session_token);
    const c = new Browser();
    const flow = (
      await c.send('GET', `${t.publicUrl}/self-service/settings/api`, { headers: { accept: 'application/json', 'x-session-token': token } })
    ).json;
    const res = await c.send('POST', `${t.publicUrl}/self-service/settings?flow=${flow.id}`, {
      body: JSON.stringify({ method: 'password', password: HUGE_PASSWORD }),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-session-token': token },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(
      messagesOf(res, 'password').map((m) => m.id),
      [4000005],
    );
    assert.match(messagesOf(res, 'password')[0]?.text ?? '', /at most 1024 characters/);
  });
});
