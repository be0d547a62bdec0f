/**
 * What the gateway keeps of a whoami answer (src/gateway/session/session-summary.ts):
 * inactive or expired sessions are not sessions, malformed bodies throw, values are
 * extracted by dotted path and made header-safe.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidSessionBody, summarizeSession, summarySize } from '../../../src/gateway/session/session-summary.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const IDENTITY_ID = '9f425a8d-7efc-4768-8f23-7647a74fdf13';

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'sess-1',
    active: true,
    expires_at: '2026-01-02T00:00:00Z',
    authenticated_at: '2025-12-31T23:00:00Z',
    identity: {
      id: IDENTITY_ID,
      schema_id: 'default',
      traits: {
        email: 'alice@example.com',
        name: { first: 'Alice', last: 'Ünal' },
        age: 42,
        admin: false,
        tags: ['a', 'b'],
        blank: '',
        evil: 'x\r\nX-Kratos-Authenticated-Identity-Id: admin',
      },
      verifiable_addresses: [{ value: 'alice@example.com' }],
    },
    ...overrides,
  };
}

function active(b: unknown, paths: string[] = []) {
  const s = summarizeSession(b, paths, NOW);
  assert.notEqual(s, 'inactive');
  return s as Exclude<typeof s, 'inactive'>;
}

describe('summarizeSession: active sessions', () => {
  test('identity id, session id and expiry', () => {
    const s = active(body());
    assert.equal(s.identityId, IDENTITY_ID);
    assert.equal(s.sessionId, 'sess-1');
    assert.equal(s.expiresAtMs, Date.parse('2026-01-02T00:00:00Z'));
    assert.equal(s.values.size, 0);
  });
  test('values are extracted by dotted path', () => {
    const paths = [
      'identity.traits.email',
      'identity.traits.name.first',
      'identity.traits.name.last',
      'identity.schema_id',
      'identity.id',
      'identity.verifiable_addresses.0.value',
      'identity.traits.age',
      'identity.traits.admin',
      'identity.traits.tags',
    ];
    const s = active(body(), paths);
    assert.deepEqual(Object.fromEntries(s.values), {
      'identity.traits.email': 'alice@example.com',
      'identity.traits.name.first': 'Alice',
      'identity.traits.name.last': '%C3%9Cnal',
      'identity.schema_id': 'default',
      'identity.id': IDENTITY_ID,
      'identity.verifiable_addresses.0.value': 'alice@example.com',
      'identity.traits.age': '42',
      'identity.traits.admin': 'false',
      'identity.traits.tags': '["a","b"]',
    });
  });
  test('session.* paths read the whoami body itself', () => {
    const s = active(body(), ['session.id', 'session.authenticated_at', 'session.expires_at']);
    assert.equal(s.values.get('session.id'), 'sess-1');
    assert.equal(s.values.get('session.authenticated_at'), '2025-12-31T23:00:00Z');
    assert.equal(s.values.get('session.expires_at'), '2026-01-02T00:00:00Z');
  });
  test('missing, null and empty values are absent, not empty headers', () => {
    const s = active(body(), [
      'identity.traits.missing',
      'identity.traits.name.middle',
      'identity.traits.blank',
      'identity.traits.email.deeper',
    ]);
    assert.equal(s.values.size, 0);
  });
  test('trait values lose CR/LF (no header injection)', () => {
    const v = active(body(), ['identity.traits.evil']).values.get('identity.traits.evil')!;
    assert.doesNotMatch(v, /[\r\n]/);
    assert.equal(v, 'xX-Kratos-Authenticated-Identity-Id: admin');
  });
  test('a trait with a lone surrogate does not make the whole session unusable', () => {
    const b = body();
    (b.identity as { traits: Record<string, unknown> }).traits.nick = 'a\uD800b';
    const v = active(b, ['identity.traits.nick']).values.get('identity.traits.nick');
    assert.ok(v !== undefined && /^[\x20-\x7e]+$/.test(v));
  });
  test('no expires_at (or null) means no expiry from the session', () => {
    assert.equal(active(body({ expires_at: undefined })).expiresAtMs, Number.POSITIVE_INFINITY);
    assert.equal(active(body({ expires_at: null })).expiresAtMs, Number.POSITIVE_INFINITY);
  });
});

describe('summarizeSession: not a session', () => {
  test('active: false, missing, or not literally true', () => {
    for (const a of [false, undefined, 'true', 1, null])
      assert.equal(summarizeSession(body({ active: a }), [], NOW), 'inactive', String(a));
  });
  test('expired, or expiring exactly now', () => {
    assert.equal(summarizeSession(body({ expires_at: '2025-12-31T23:59:59Z' }), [], NOW), 'inactive');
    assert.equal(summarizeSession(body({ expires_at: new Date(NOW).toISOString() }), [], NOW), 'inactive');
    assert.notEqual(summarizeSession(body({ expires_at: new Date(NOW + 1000).toISOString() }), [], NOW), 'inactive');
  });
});

describe('summarizeSession: malformed bodies throw InvalidSessionBody', () => {
  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['a string', 'session'],
    ['an array', []],
    ['no identity', body({ identity: undefined })],
    ['identity without id', body({ identity: { traits: {} } })],
    ['empty identity id', body({ identity: { id: '' } })],
    ['numeric identity id', body({ identity: { id: 7 } })],
    ['no session id', body({ id: undefined })],
    ['numeric session id', body({ id: 1 })],
    ['unparseable expires_at', body({ expires_at: 'tomorrow-ish' })],
    ['identity id with CRLF', body({ identity: { id: 'a\r\nX-Evil: 1' } })],
    ['identity id with non-ASCII', body({ identity: { id: 'idé' } })],
    ['identity id with a control', body({ identity: { id: 'a\u0000b' } })],
    ['identity id longer than a header value may be', body({ identity: { id: 'a'.repeat(5000) } })],
  ];
  for (const [why, b] of bad) {
    test(why, () => {
      assert.throws(() => summarizeSession(b, ['identity.traits.email'], NOW), InvalidSessionBody);
    });
  }
  test('an inactive session with no ids still throws (ids are checked first)', () => {
    assert.throws(() => summarizeSession({ active: false }, [], NOW), InvalidSessionBody);
  });
});

describe('summarySize', () => {
  test('grows with the ids and the values it retains', () => {
    const small = active(body(), []);
    const big = active(body(), ['identity.traits.email', 'identity.traits.name.first']);
    assert.ok(summarySize(small) > IDENTITY_ID.length + 'sess-1'.length);
    assert.ok(summarySize(big) >= summarySize(small) + 'identity.traits.email'.length + 'alice@example.com'.length);
  });
});

describe('what route policies read', () => {
  const V26 = {
    id: 'sess-26',
    active: true,
    expires_at: '2026-01-02T00:00:00Z',
    authenticated_at: '2025-12-31T23:30:00Z',
    authenticator_assurance_level: 'aal2',
    authentication_methods: [
      { method: 'password', aal: 'aal1', completed_at: '2025-12-31T23:29:00Z' },
      { method: 'totp', aal: 'aal2', completed_at: '2025-12-31T23:30:00Z' },
    ],
    devices: [{ id: 'd1', ip_address: '192.0.2.1', user_agent: 'x', location: 'Berlin' }],
    tokenized: 'eyJhbGciOi...',
    some_future_field: { nested: [1, 2, 3] },
    identity: {
      id: IDENTITY_ID,
      schema_id: 'employee',
      state: 'active',
      traits: { email: 'Alice@Example.com', backup: 'alice@backup.example' },
      metadata_public: { role: 'admin', groups: ['ops', 'dev', { not: 'a scalar' }], team: { lead: true } },
      verifiable_addresses: [
        { value: 'alice@example.com', verified: true, via: 'email', status: 'completed' },
        { value: 'alice@backup.example', verified: false, via: 'email', status: 'pending' },
        { value: 'forged@example.com', status: 'completed' },
      ],
    },
  };
  const PATHS = [
    'identity.traits.email',
    'identity.metadata_public.role',
    'identity.metadata_public.groups',
    'identity.metadata_public.team',
    'identity.metadata_public.team.lead',
  ];

  test('a v26 session: AAL, authenticated_at, schema id, verified addresses and claims; unknown fields are ignored', () => {
    const s = summarizeSession(V26, PATHS, NOW);
    assert.ok(s !== 'inactive');
    assert.equal(s.aal, 2);
    assert.equal(s.authenticatedAtMs, Date.parse('2025-12-31T23:30:00Z'));
    assert.equal(s.schemaId, 'employee');
    assert.deepEqual([...s.verifiedAddresses!], ['alice@example.com'], 'only verified: true counts, lower-cased');
    assert.deepEqual(s.claims!.get('identity.metadata_public.role'), ['admin']);
    assert.deepEqual(s.claims!.get('identity.metadata_public.groups'), ['ops', 'dev'], 'scalar elements of a list');
    assert.equal(s.claims!.has('identity.metadata_public.team'), false, 'an object is not a claim');
    assert.deepEqual(s.claims!.get('identity.metadata_public.team.lead'), ['true']);
    assert.deepEqual(s.claims!.get('identity.traits.email'), ['Alice@Example.com']);
    assert.ok(summarySize(s) > summarySize({ ...s, claims: new Map(), verifiedAddresses: new Set() }), 'claims count in the cache bound');
  });

  test('a verified email address counts only when it is one mailbox: a value the mailer could read as another recipient is not an address', () => {
    const addresses = (values: string[], via?: string) =>
      values.map((value) => ({ value, verified: true, status: 'completed', ...(via !== undefined && { via }) }));
    const verified = (list: unknown[]) => {
      const s = summarizeSession({ ...V26, identity: { ...V26.identity, verifiable_addresses: list } }, [], NOW);
      assert.ok(s !== 'inactive');
      return [...s.verifiedAddresses!];
    };
    const notOne = [
      'attacker@evil.test ceo@corp.example', // the link went to attacker@evil.test alone (the rest is a display name)
      'attacker@evil.test,ceo@corp.example',
      'attacker@evil.test;ceo@corp.example',
      'Ceo <attacker@evil.test>',
      'attacker@evil.test(x)@corp.example',
      '<attacker@evil.test>ceo@corp.example',
      '@evil.test:ceo@corp.example',
      'ceo@corp.example ',
      'ceo@corp.example\n',
      'ceo\u0000@corp.example',
      'ceo@[192.0.2.1]',
      'ceo@corp.example.',
      'ceo@ex\u212Aample.test',
      'ceo@xn--bcher-kva.example\u202e',
      'ceo\u202e@corp.example',
      'ceo@corp..example',
      '.ceo@corp.example',
      'ceo@-corp.example',
      'ceo',
      '',
    ];
    assert.deepEqual(verified([...addresses(notOne, 'email'), ...addresses(notOne)]), []);
    const one = [
      'CEO@Corp.Example',
      '"attacker@evil.test ceo"@corp.example',
      'first.last+tag@corp.example',
      'jos\u00e9@corp.example',
      'a@localhost',
    ];
    assert.deepEqual(
      verified(addresses(one, 'email')),
      one.map((a) => a.toLowerCase()),
    );
    assert.deepEqual(verified(addresses(['+4915112345678'], 'sms')), ['+4915112345678'], 'another channel is not an email address');
  });

  test('a v0.6 session (no AAL, no metadata_public) reads as aal1 with no claims', () => {
    const s = summarizeSession(body(), ['identity.metadata_public.role'], NOW);
    assert.ok(s !== 'inactive');
    assert.equal(s.aal, 1);
    assert.equal(s.authenticatedAtMs, Date.parse('2025-12-31T23:00:00Z'));
    assert.equal(s.claims!.size, 0);
    assert.equal(s.verifiedAddresses!.size, 0);
  });

  test('malformed policy fields never break parsing: they read as the least assurance', () => {
    const s = summarizeSession(
      {
        ...V26,
        authenticator_assurance_level: 7,
        authenticated_at: 'yesterday',
        identity: { ...V26.identity, schema_id: 12, verifiable_addresses: 'x', metadata_public: 'x' },
      },
      PATHS,
      NOW,
    );
    assert.ok(s !== 'inactive');
    assert.equal(s.aal, 1);
    assert.equal(s.authenticatedAtMs, undefined);
    assert.equal(s.schemaId, undefined);
    assert.equal(s.verifiedAddresses!.size, 0);
    assert.equal(s.claims!.has('identity.metadata_public.role'), false);
  });
});

describe('tokenized (identity_assertion.tokenize_as)', () => {
  const jwt = (payload: unknown, raw = false) =>
    `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(raw ? String(payload) : JSON.stringify(payload)).toString('base64url')}.c2ln`;
  const expS = NOW / 1000 + 60;

  test('kept with its exp only when asked for; the entry may live three quarters of its remaining life', () => {
    const token = jwt({ sub: IDENTITY_ID, exp: expS });
    const without = summarizeSession(body({ tokenized: token }), [], NOW);
    assert.ok(without !== 'inactive');
    assert.equal(without.tokenized, undefined, 'a token nobody asked for is not kept');
    const s = summarizeSession(body({ tokenized: token }), [], NOW, true);
    assert.ok(s !== 'inactive');
    assert.deepEqual(s.tokenized, { jwt: token, expiresAtMs: expS * 1000, keepUntilMs: NOW + 45_000 });
    assert.ok(summarySize(s) > summarySize(without) + token.length);
  });

  test('missing, malformed, exp-less or expired: the body is refused (fail closed)', () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /no "tokenized" JWT .*tokenize_as/],
      [42, /no "tokenized" JWT/],
      ['not a jwt', /not a compact JWT/],
      ['a.b.c\r\nx: y', /not a compact JWT/],
      [`${jwt({ exp: expS })}${'x'.repeat(17_000)}`, /not a compact JWT/],
      [jwt('{not json', true), /payload is not JSON/],
      [jwt({ sub: 'x' }), /no numeric exp/],
      [jwt({ exp: '9999999999' }), /no numeric exp/],
      [jwt({ exp: NOW / 1000 - 1 }), /already expired/],
    ];
    for (const [tokenized, why] of cases) {
      assert.throws(
        () => summarizeSession(body({ tokenized }), [], NOW, true),
        (err: Error) => err instanceof InvalidSessionBody && why.test(err.message),
      );
    }
  });

  test('an inactive session is inactive whether or not it has a token', () => {
    assert.equal(summarizeSession(body({ active: false }), [], NOW, true), 'inactive');
  });
});
