/**
 * A trait the identity schema marks `verification` or `recovery` via email must hold one email
 * address, whatever `format` the schema gives it (Kratos v0.6 checks the email format in those
 * extensions, identity/extension_verify.go and extension_recovery.go), and so must the email of a
 * recovery or verification form (the link strategy's schema says `format: email`). Otherwise a
 * value such as `attacker@evil.test ceo@corp.example` becomes a "verified address" whose link went
 * to attacker@evil.test alone (the courier's mailer reads the rest as a display name), and a route
 * policy `verified_address: { ends_with: '@corp.example' }` lets it through.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { Browser, courierMessages, kratosTestConfig, startTestServer, traitsSchema, type TestServer } from './helpers.js';

/** `email`: an identifier, verifiable and a recovery address; no `format` (Kratos checks it anyway). */
const SCHEMA = traitsSchema(
  {
    email: {
      type: 'string',
      'ory.sh/kratos': { credentials: { password: { identifier: true } }, verification: { via: 'email' }, recovery: { via: 'email' } },
    },
    backup: { type: 'array', items: { type: 'string', 'ory.sh/kratos': { recovery: { via: 'email' } } } },
  },
  ['email'],
);

/** Several mailboxes, a display name, a comment, a blank: each is something other than one address. */
const NOT_ONE_ADDRESS = [
  'attacker@evil.test ceo@corp.example',
  'attacker@evil.test,ceo@corp.example',
  'attacker@evil.test;ceo@corp.example',
  'Ceo <attacker@evil.test>',
  'attacker@evil.test(x)@corp.example',
  ' ceo@corp.example',
  'ceo@corp.example\n',
];

describe('addresses Kratos sends email to are one email address', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-address-format-'));
  let t: TestServer;

  before(async () => {
    writeFileSync(join(dir, 'identity.schema.json'), JSON.stringify(SCHEMA));
    t = await startTestServer({
      config: kratosTestConfig({ identity: { default_schema_url: `file://${join(dir, 'identity.schema.json')}` } }),
    });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(traits: Record<string, unknown>) {
    const init = await request(`${t.publicUrl}/self-service/registration/api`);
    const flow = (await init.body.json()) as { id: string };
    const res = await request(`${t.publicUrl}/self-service/registration?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'password', password: 'address-format-passphrase-1', traits }),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  it('registration refuses a verifiable or recovery trait that is not one address, and sends no email', async () => {
    for (const value of NOT_ONE_ADDRESS) {
      const res = await register({ email: value });
      assert.equal(res.status, 400, `${JSON.stringify(value)}: ${res.text}`);
      assert.ok(res.text.includes('is not valid \\"email\\"'), res.text);
    }
    const backup = await register({ email: 'someone@corp.example', backup: ['a@x.test,b@y.test'] });
    assert.equal(backup.status, 400, backup.text);
    assert.deepEqual(await courierMessages(t.adminUrl), [], 'no email was sent');
    const ok = await register({ email: 'Staff@Corp.Example', backup: ['staff@home.test'] });
    assert.equal(ok.status, 200, ok.text);
  });

  it('the admin API refuses such an identity too', async () => {
    const res = await request(`${t.adminUrl}/identities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ traits: { email: 'someone@evil.test boss@corp.example' } }),
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 400, text);
    assert.ok(text.includes('is not valid'), text);
  });

  it('a recovery or verification form with something other than one address is a 400, and nothing is sent', async () => {
    const before = (await courierMessages(t.adminUrl)).length;
    for (const kind of ['recovery', 'verification'] as const) {
      for (const email of ['victim@x.test,other@y.test', 'victim@x.test other@y.test']) {
        const b = new Browser();
        const flow = (await b.send('GET', `${t.publicUrl}/self-service/${kind}/api`, { headers: { accept: 'application/json' } })).json;
        const res = await b.postJson(`${t.publicUrl}/self-service/${kind}?flow=${String(flow.id)}`, { method: 'link', email });
        assert.equal(res.status, 400, `${kind} ${email}: ${res.text}`);
        assert.ok(res.text.includes('is not valid \\"email\\"'), res.text);
      }
    }
    assert.equal((await courierMessages(t.adminUrl)).length, before, 'no email was sent');
  });
});
