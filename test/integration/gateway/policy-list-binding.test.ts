/**
 * Policies over a list of addresses, end to end: the gateway with its embedded identity server,
 * an identity schema whose `emails` trait is a list of verifiable addresses, and identities whose
 * addresses are verified by following the emailed link. Separate conditions each hold on their own
 * (one may hold on one address, the next on another); `verified_address: { ends_with: … }` binds
 * the comparison to a verified address. Answered the same by the proxy and the decision API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { lastLinkTo, traitsSchema } from '../identity/helpers.js';
import { registerThrough, startPolicyGateway, statusesFor, type PolicyGateway } from './embedded-identity.js';

const CORP = '@corp.example';

/** Traits `emails`: a list of addresses, each a login identifier and verifiable by email. */
const SCHEMA = traitsSchema(
  {
    emails: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'string',
        format: 'email',
        'ory.sh/kratos': { credentials: { password: { identifier: true } }, verification: { via: 'email' } },
      },
    },
  },
  ['emails'],
);

describe('policies over a list of addresses (embedded identity server)', () => {
  let p: PolicyGateway;

  before(async () => {
    p = await startPolicyGateway({
      schema: SCHEMA,
      routes: {
        // The trap: two conditions, each evaluated on its own.
        separate: { all: [{ path: 'identity.traits.emails', ends_with: CORP }, { verified_address: 'any' }] },
        'separate-path': { all: [{ path: 'identity.traits.emails', ends_with: CORP }, { verified_address: 'identity.traits.emails' }] },
        // One condition: a verified address that ends with the suffix.
        bound: { verified_address: { ends_with: CORP } },
        'bound-path': { verified_address: { path: 'identity.traits.emails', ends_with: CORP } },
      },
    });
  });
  after(() => p.close());

  /** Registers through the gateway's Kratos mount, then follows the emailed link of `verify` only. */
  async function identity(emails: string[], verify: string): Promise<string> {
    const { status, body } = await registerThrough(p.mount, { emails });
    assert.equal(status, 200, JSON.stringify(body));
    const click = await request(await lastLinkTo(p.gw.kratosAdminUrl!, verify));
    await click.body.dump();
    const addresses = (await (await request(`${p.gw.kratosAdminUrl!}/identities/${body.identity!.id}`)).body.json()) as {
      verifiable_addresses: Array<{ value: string; verified: boolean }>;
    };
    assert.deepEqual(
      addresses.verifiable_addresses.map((a) => [a.value, a.verified]).sort(),
      emails.map((e) => [e, e === verify]).sort(),
      'exactly the one address is verified',
    );
    return body.session_token!;
  }

  it('the gateway warns at start about the separate conditions, not about the bound ones', () => {
    const warned = p.gw.logLines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40 && l.msg.startsWith('route policy: '))
      .map((l) => l.msg.split(' ', 3)[2]);
    assert.deepEqual(warned, ['routes.0.policy.all.0', 'routes.1.policy.all.0']);
  });

  it('a verified outside address and an unverified corporate one: separate conditions pass, the bound condition refuses (proxy and decision API)', async () => {
    const attacker = await identity(['attacker@evil.test', 'ceo@corp.example'], 'attacker@evil.test');
    const insider = await identity(['staff@corp.example', 'staff@home.test'], 'staff@corp.example');
    const paths = ['/separate/x', '/separate-path/x', '/bound/x', '/bound-path/x'];
    const expect = (codes: number[]) =>
      Object.fromEntries(['proxy', 'decision API'].flatMap((where) => paths.map((path, i) => [`${where} ${path}`, codes[i]])));
    // Separate conditions may hold on different addresses (also with verified_address on the same
    // trait); no verified address (in emails) ends with the suffix.
    assert.deepEqual(await statusesFor(p, paths, attacker), expect([200, 200, 403, 403]));
    // A verified corporate address (in emails).
    assert.deepEqual(await statusesFor(p, paths, insider), expect([200, 200, 200, 200]));
  });
});
