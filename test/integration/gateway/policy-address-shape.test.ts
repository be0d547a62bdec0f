/**
 * `verified_address: { ends_with: '@corp.example' }` must mean "a verified corporate mailbox", end
 * to end with the embedded identity server. A verifiable trait whose schema gives no `format` once
 * took `attacker@evil.test ceo@corp.example`: the verification link went to attacker@evil.test
 * alone (the mailer reads the rest as a display name), the value became verified and ended with
 * the suffix. Now the identity server refuses such a value (as Kratos does), and the gateway does
 * not count one that is already stored as a verified address (src/gateway/session/mailbox.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { courierMessages, lastLinkTo, traitsSchema } from '../identity/helpers.js';
import { registerThrough, startPolicyGateway, statusesFor, type PolicyGateway } from './embedded-identity.js';

/** `email`: an identifier, verifiable by email, with no `format` (the identity server checks it anyway). */
const SCHEMA = traitsSchema(
  { email: { type: 'string', 'ory.sh/kratos': { credentials: { password: { identifier: true } }, verification: { via: 'email' } } } },
  ['email'],
);
const NOT_ONE_MAILBOX = 'attacker@evil.test ceo@corp.example';
const PATHS = ['/bound/x', '/bound-path/x', '/verified/x'];

describe('a verified address that is not one mailbox (embedded identity server)', () => {
  let p: PolicyGateway;
  let dbFile: string;

  before(async () => {
    p = await startPolicyGateway({
      schema: SCHEMA,
      routes: {
        bound: { verified_address: { ends_with: '@corp.example' } },
        'bound-path': { verified_address: { path: 'identity.traits.email', ends_with: '@corp.example' } },
        verified: { verified_address: 'any' },
      },
      dsn: (dir) => `sqlite://${(dbFile = join(dir, 'kratos.sqlite'))}`,
    });
  });
  after(() => p.close());

  it('registering it through the gateway is refused, and no email is sent', async () => {
    const res = await registerThrough(p.mount, { email: NOT_ONE_MAILBOX });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(JSON.stringify(res.body).includes('is not valid \\"email\\"'), JSON.stringify(res.body));
    assert.deepEqual(await courierMessages(p.gw.kratosAdminUrl!), []);
  });

  it('one stored and verified before the check does not count: not for the binding form, not for verified_address: any', async () => {
    const { status, body } = await registerThrough(p.mount, { email: 'attacker@evil.test' });
    assert.equal(status, 200, JSON.stringify(body));
    const token = body.session_token!;
    // What an earlier embedded server stored: the value as typed, verified through its link.
    const db = new Database(dbFile);
    try {
      db.pragma('busy_timeout = 10000');
      const id = body.identity!.id;
      db.prepare('UPDATE identities SET traits = ? WHERE id = ?').run(JSON.stringify({ email: NOT_ONE_MAILBOX }), id);
      const changed = db
        .prepare(`UPDATE identity_verifiable_addresses SET value = ?, verified = 1, status = 'completed' WHERE identity_id = ?`)
        .run(NOT_ONE_MAILBOX, id).changes;
      assert.equal(changed, 1);
    } finally {
      db.close();
    }
    const whoami = (await (await request(`${p.mount}/sessions/whoami`, { headers: { 'x-session-token': token } })).body.json()) as {
      identity: { verifiable_addresses: Array<{ value: string; verified: boolean }> };
    };
    assert.deepEqual(
      whoami.identity.verifiable_addresses.map((a) => [a.value, a.verified]),
      [[NOT_ONE_MAILBOX, true]],
    );
    assert.deepEqual(await statusesFor(p, PATHS, token), {
      'proxy /bound/x': 403,
      'proxy /bound-path/x': 403,
      'proxy /verified/x': 403,
      'decision API /bound/x': 403,
      'decision API /bound-path/x': 403,
      'decision API /verified/x': 403,
    });
  });

  it('a verified corporate mailbox passes', async () => {
    const { status, body } = await registerThrough(p.mount, { email: 'Staff@Corp.Example' });
    assert.equal(status, 200, JSON.stringify(body));
    await (await request(await lastLinkTo(p.gw.kratosAdminUrl!, 'staff@corp.example'))).body.dump();
    assert.deepEqual(Object.values(await statusesFor(p, PATHS, body.session_token!)), [200, 200, 200, 200, 200, 200]);
  });
});
