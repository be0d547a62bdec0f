/**
 * Policies over a list of addresses, end to end: the gateway with its embedded identity server,
 * an identity schema whose `emails` trait is a list of verifiable addresses, and identities whose
 * addresses are verified by following the emailed link. Separate conditions each hold on their own
 * (one may hold on one address, the next on another); `verified_address: { ends_with: … }` binds
 * the comparison to a verified address. Answered the same by the proxy and the decision API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { freePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';
import { lastLinkTo } from '../identity/helpers.js';

const CORP = '@corp.example';

/** Traits `emails`: a list of addresses, each a login identifier and verifiable by email. */
const SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    traits: {
      type: 'object',
      properties: {
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
      required: ['emails'],
      additionalProperties: false,
    },
  },
};

describe('policies over a list of addresses (embedded identity server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-policy-list-'));
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let mount: string;

  before(async () => {
    writeFileSync(join(dir, 'identity.schema.json'), JSON.stringify(SCHEMA));
    // JSON is YAML; the embedded server reads Kratos's own key names.
    writeFileSync(
      join(dir, 'kratos.yml'),
      JSON.stringify({
        selfservice: {
          methods: { password: { enabled: true } },
          flows: {
            registration: { after: { password: { hooks: [{ hook: 'session' }] } } },
            verification: { enabled: true },
          },
        },
        secrets: { cookie: ['policy-list-test-secret-0123456789'] },
        identity: { default_schema_url: `file://${join(dir, 'identity.schema.json')}` },
        hashers: { argon2: { memory: '8MB', iterations: 1 } },
      }),
    );
    upstream = await startEchoUpstream();
    const port = await freePort();
    const route = (name: string, policy: unknown) => ({ name, match: { path_prefix: `/${name}` }, upstream: upstream.url, policy });
    gw = await startTestGateway({
      proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
      embedded_kratos: {
        enabled: true,
        config_file: join(dir, 'kratos.yml'),
        dsn: ':memory:',
        public_listen: { port: 0 },
        admin_listen: { port: 0 },
      },
      routes: [
        // The trap: two conditions, each evaluated on its own.
        route('separate', { all: [{ path: 'identity.traits.emails', ends_with: CORP }, { verified_address: 'any' }] }),
        route('separate-path', {
          all: [{ path: 'identity.traits.emails', ends_with: CORP }, { verified_address: 'identity.traits.emails' }],
        }),
        // One condition: a verified address that ends with the suffix.
        route('bound', { verified_address: { ends_with: CORP } }),
        route('bound-path', { verified_address: { path: 'identity.traits.emails', ends_with: CORP } }),
      ],
    });
    mount = `${gw.proxyUrl}/.ory/kratos/public`;
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Registers through the gateway's Kratos mount, then follows the emailed link of `verify` only. */
  async function identity(emails: string[], verify: string): Promise<string> {
    const init = await request(`${mount}/self-service/registration/api`);
    const flow = (await init.body.json()) as { id: string };
    const res = await request(`${mount}/self-service/registration?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'password', password: 'list-binding-passphrase-1', traits: { emails } }),
    });
    const body = (await res.body.json()) as { session_token: string; identity: { id: string } };
    assert.equal(res.statusCode, 200, JSON.stringify(body));
    const click = await request(await lastLinkTo(gw.kratosAdminUrl!, verify));
    await click.body.dump();
    const addresses = (await (await request(`${gw.kratosAdminUrl!}/identities/${body.identity.id}`)).body.json()) as {
      verifiable_addresses: Array<{ value: string; verified: boolean }>;
    };
    assert.deepEqual(
      addresses.verifiable_addresses.map((a) => [a.value, a.verified]).sort(),
      emails.map((e) => [e, e === verify]).sort(),
      'exactly the one address is verified',
    );
    return body.session_token;
  }

  async function status(base: string, path: string, token: string): Promise<number> {
    const res = await request(`${base}${path}`, { headers: { 'x-session-token': token } });
    await res.body.dump();
    return res.statusCode;
  }

  it('the gateway warns at start about the separate conditions, not about the bound ones', () => {
    const warned = gw.logLines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40 && l.msg.startsWith('route policy: '))
      .map((l) => l.msg.split(' ', 3)[2]);
    assert.deepEqual(warned, ['routes.0.policy.all.0', 'routes.1.policy.all.0']);
  });

  it('a verified outside address and an unverified corporate one: separate conditions pass, the bound condition refuses (proxy and decision API)', async () => {
    const attacker = await identity(['attacker@evil.test', 'ceo@corp.example'], 'attacker@evil.test');
    const insider = await identity(['staff@corp.example', 'staff@home.test'], 'staff@corp.example');
    for (const [name, base] of [
      ['proxy', gw.proxyUrl],
      ['decision API', `${gw.adminUrl}/decisions`],
    ] as const) {
      assert.equal(await status(base, '/separate/x', attacker), 200, `${name}: separate conditions may hold on different addresses`);
      assert.equal(await status(base, '/separate-path/x', attacker), 200, `${name}: also with verified_address on the same trait`);
      assert.equal(await status(base, '/bound/x', attacker), 403, `${name}: no verified address ends with ${CORP}`);
      assert.equal(await status(base, '/bound-path/x', attacker), 403, `${name}: no verified address in emails ends with ${CORP}`);
      assert.equal(await status(base, '/bound/x', insider), 200, `${name}: a verified corporate address`);
      assert.equal(await status(base, '/bound-path/x', insider), 200, `${name}: a verified corporate address in emails`);
    }
  });
});
