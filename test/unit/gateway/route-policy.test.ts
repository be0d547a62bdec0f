/**
 * The route policy language (src/config/policy.ts) and its evaluator
 * (src/gateway/pipeline/authz/route-policy.ts), on hand-made session summaries.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { claimPaths, parsePolicy, readsMethod, type Condition } from '../../../src/config/policy.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { evaluateCondition } from '../../../src/gateway/pipeline/authz/route-policy.js';
import type { SessionSummary } from '../../../src/gateway/session/session-summary.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

function compile(raw: unknown): Condition {
  const problems: string[] = [];
  const c = parsePolicy(raw, 'p', problems);
  assert.deepEqual(problems, []);
  return c!;
}

function session(over: Partial<SessionSummary> = {}): SessionSummary {
  return {
    identityId: 'i',
    sessionId: 's',
    expiresAtMs: Infinity,
    values: new Map(),
    claims: new Map<string, readonly string[]>([
      ['identity.traits.email', ['Ann@Example.com']],
      ['identity.metadata_public.role', ['admin']],
      ['identity.metadata_public.groups', ['ops', 'dev']],
    ]),
    aal: 1,
    authenticatedAtMs: NOW - 60_000,
    schemaId: 'default',
    verifiedAddresses: new Set(['ann@example.com']),
    ...over,
  };
}

const run = (raw: unknown, s: SessionSummary | null = session(), method = 'GET') =>
  evaluateCondition(compile(raw), { method, session: s ?? undefined, nowMs: NOW });

describe('policy conditions', () => {
  test('equals, one_of, ends_with and matches on traits and metadata_public; lists match by any element', () => {
    assert.equal(run({ path: 'identity.metadata_public.role', equals: 'admin' }), undefined);
    assert.equal(run({ path: 'identity.metadata_public.role', equals: 'Admin' }), 'forbidden');
    assert.equal(run({ path: 'identity.metadata_public.role', one_of: ['owner', 'admin'] }), undefined);
    assert.equal(run({ path: 'identity.metadata_public.role', one_of: ['owner'] }), 'forbidden');
    assert.equal(run({ path: 'identity.metadata_public.groups', equals: 'dev' }), undefined);
    assert.equal(run({ path: 'identity.traits.email', ends_with: '@Example.com' }), undefined);
    assert.equal(run({ path: 'identity.traits.email', ends_with: '@example.org' }), 'forbidden');
    assert.equal(run({ path: 'identity.traits.email', matches: '@example\\.com$' }), 'forbidden', 'case-sensitive as written');
    assert.equal(run({ path: 'identity.traits.email', matches: '@[Ee]xample\\.com$' }), undefined);
    assert.equal(run({ path: 'identity.traits.missing', equals: 'x' }), 'forbidden', 'an absent claim never matches');
  });

  test('a matches condition ignores a claim longer than the input bound', () => {
    const long = session({ claims: new Map([['identity.traits.bio', ['a'.repeat(2000)]]]) });
    assert.equal(run({ path: 'identity.traits.bio', matches: '^a+$' }, long), 'forbidden');
    const short = session({ claims: new Map([['identity.traits.bio', ['a'.repeat(20)]]]) });
    assert.equal(run({ path: 'identity.traits.bio', matches: '^a+$' }, short), undefined);
  });

  test('verified_address: any, or the address in a trait (case-insensitive)', () => {
    assert.equal(run({ verified_address: 'any' }), undefined);
    assert.equal(run({ verified_address: 'identity.traits.email' }), undefined);
    assert.equal(run({ verified_address: 'any' }, session({ verifiedAddresses: new Set() })), 'forbidden');
    const other = session({ verifiedAddresses: new Set(['other@example.com']) });
    assert.equal(run({ verified_address: 'identity.traits.email' }, other), 'forbidden');
    assert.equal(run({ verified_address: 'any' }, other), undefined);
  });

  test('verified_address with a comparison: one and the same verified address must satisfy it', () => {
    // A verified outside address and an unverified corporate one (docs/policies.md).
    const mixed = session({
      claims: new Map([['identity.traits.emails', ['attacker@evil.test', 'CEO@Corp.Example']]]),
      verifiedAddresses: new Set(['attacker@evil.test']),
    });
    const separate = { all: [{ path: 'identity.traits.emails', ends_with: '@Corp.Example' }, { verified_address: 'any' }] };
    assert.equal(run(separate, mixed), undefined, 'separate conditions each hold, on different addresses');
    assert.equal(run({ verified_address: { ends_with: '@corp.example' } }, mixed), 'forbidden');
    assert.equal(run({ verified_address: { path: 'identity.traits.emails', ends_with: '@corp.example' } }, mixed), 'forbidden');

    const both = session({ ...mixed, verifiedAddresses: new Set(['attacker@evil.test', 'ceo@corp.example']) });
    for (const address of [
      { ends_with: '@Corp.Example' },
      { equals: 'CEO@corp.example' },
      { one_of: ['cfo@corp.example', 'Ceo@Corp.Example'] },
      { matches: '^CEO@corp\\.example$' },
    ]) {
      assert.equal(run({ verified_address: address }, both), undefined, JSON.stringify(address));
      assert.equal(run({ verified_address: { path: 'identity.traits.emails', ...address } }, both), undefined, JSON.stringify(address));
    }
    assert.equal(run({ verified_address: { equals: 'ceo@corp.example.org' } }, both), 'forbidden');
    assert.equal(run({ verified_address: { matches: '^ceo@corp$' } }, both), 'forbidden', 'not anchored for you, but anchors hold');
    // With a path, only the trait's addresses count: the verified corporate address is not in it.
    assert.equal(run({ verified_address: { path: 'identity.traits.email', ends_with: '@corp.example' } }, both), 'forbidden');
    assert.equal(run({ verified_address: { ends_with: '@corp.example' } }, session({ verifiedAddresses: undefined })), 'forbidden');
  });

  test('verified_address: matches folds as the i flag does (docs/policies.md), equals compares the lower-cased text', () => {
    const longS = session({ verifiedAddresses: new Set(['ro\u017f\u017f@corp.example']) });
    assert.equal(run({ verified_address: { matches: '^ross@corp\\.example$' } }, longS), undefined);
    assert.equal(run({ verified_address: { equals: 'ross@corp.example' } }, longS), 'forbidden');
    assert.equal(run({ verified_address: { one_of: ['ross@corp.example'] } }, longS), 'forbidden');
    assert.equal(run({ verified_address: { ends_with: '@corp.example' } }, longS), undefined, 'the domain is what ends_with reads');
    const suffixes = session({ verifiedAddresses: new Set(['a@evilcorp.example', 'b@sub.corp.example', 'c@corp.example.evil.test']) });
    assert.equal(run({ verified_address: { ends_with: '@corp.example' } }, suffixes), 'forbidden');
    assert.equal(run({ verified_address: { ends_with: 'corp.example' } }, suffixes), undefined, 'without @ another domain passes');
    assert.equal(run({ verified_address: { ends_with: '.corp.example' } }, suffixes), undefined, 'a subdomain');
    assert.equal(run({ verified_address: { matches: '@corp\\.example' } }, suffixes), undefined, 'unanchored');
    assert.equal(run({ verified_address: { matches: '@corp\\.example$' } }, suffixes), 'forbidden');
  });

  test('schema_id, one or a list', () => {
    assert.equal(run({ schema_id: 'default' }), undefined);
    assert.equal(run({ schema_id: ['employee', 'default'] }), undefined);
    assert.equal(run({ schema_id: 'employee' }), 'forbidden');
    assert.equal(run({ schema_id: 'default' }, session({ schemaId: undefined })), 'forbidden');
  });

  test('aal: a shortfall asks for a step-up; a missing AAL is aal1', () => {
    assert.equal(run({ aal: 'aal2' }), 'aal2');
    assert.equal(run({ aal: 'aal2' }, session({ aal: 2 })), undefined);
    assert.equal(run({ aal: 'aal2' }, session({ aal: undefined })), 'aal2');
    assert.equal(run({ aal: 'aal1' }, session({ aal: undefined })), undefined);
  });

  test('authenticated_within: older (or unknown) authentication asks for a refresh', () => {
    assert.equal(run({ authenticated_within: '2m' }), undefined);
    assert.equal(run({ authenticated_within: '30s' }), 'refresh');
    assert.equal(run({ authenticated_within: '1h' }, session({ authenticatedAtMs: undefined })), 'refresh');
  });

  test('all answers its hardest failure, any its easiest', () => {
    const role = { path: 'identity.metadata_public.role', equals: 'owner' };
    assert.equal(run({ all: [{ authenticated_within: '30s' }, { aal: 'aal2' }] }), 'aal2');
    assert.equal(run({ all: [{ aal: 'aal2' }, role] }), 'forbidden', 'a second factor cannot fix the role');
    assert.equal(run({ any: [role, { aal: 'aal2' }] }), 'aal2');
    assert.equal(run({ any: [role, { schema_id: 'default' }] }), undefined);
    assert.equal(run({ any: [role, { schema_id: 'x' }] }), 'forbidden');
    assert.equal(run({ all: [{ any: [role, { authenticated_within: '1m' }] }, { verified_address: 'any' }] }), undefined);
  });

  test('methods: per-method rules; no session asks for a login', () => {
    const writesNeedAdmin = { any: [{ methods: ['GET', 'HEAD'] }, { path: 'identity.metadata_public.role', equals: 'owner' }] };
    assert.equal(run(writesNeedAdmin, session(), 'GET'), undefined);
    assert.equal(run(writesNeedAdmin, session(), 'POST'), 'forbidden');
    assert.equal(run(writesNeedAdmin, null, 'GET'), undefined);
    assert.equal(run(writesNeedAdmin, null, 'POST'), 'login');
    assert.equal(run({ aal: 'aal2' }, null), 'login');
  });

  test('readsMethod finds a methods condition anywhere in the tree', () => {
    assert.equal(readsMethod(compile({ methods: ['GET'] })), true);
    assert.equal(readsMethod(compile({ all: [{ aal: 'aal2' }, { any: [{ schema_id: 'x' }, { methods: ['GET'] }] }] })), true);
    assert.equal(readsMethod(compile({ all: [{ aal: 'aal2' }, { any: [{ schema_id: 'x' }, { verified_address: 'any' }] }] })), false);
  });

  test('methods: HEAD is judged as GET, allowed or refused', () => {
    const readers = { any: [{ methods: ['GET'] }, { path: 'identity.metadata_public.role', equals: 'owner' }] };
    assert.equal(run(readers, session(), 'HEAD'), undefined);
    assert.equal(run({ methods: ['POST'] }, session(), 'GET'), 'forbidden');
    assert.equal(run({ methods: ['POST'] }, session(), 'HEAD'), 'forbidden');
  });

  test('claimPaths lists every claim a policy reads', () => {
    const c = compile({
      all: [
        { path: 'identity.traits.email', matches: 'x' },
        { any: [{ verified_address: 'identity.traits.backup' }, { aal: 'aal2' }] },
        { verified_address: { path: 'identity.traits.emails', ends_with: 'x' } },
        { verified_address: { ends_with: 'y' } },
      ],
    });
    assert.deepEqual([...claimPaths(c)].sort(), ['identity.traits.backup', 'identity.traits.email', 'identity.traits.emails']);
  });
});

function configProblems(policy: unknown, auth = 'required'): string[] {
  try {
    parseConfig({ routes: [{ name: 'r', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:1', auth, policy }] });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

describe('policy configuration errors name the key path', () => {
  test('a valid policy is accepted', () => {
    assert.deepEqual(
      configProblems({
        all: [
          { path: 'identity.metadata_public.role', equals: 'admin' },
          { path: 'identity.traits.email', matches: '@example\\.com$' },
          { verified_address: 'identity.traits.email' },
          { verified_address: { ends_with: '@example.com' } },
          { verified_address: { path: 'identity.traits.email', one_of: ['a@example.com', 'b@example.com'] } },
          { schema_id: ['default', 'employee'] },
          { aal: 'aal2' },
          { authenticated_within: '15m' },
        ],
      }),
      [],
    );
  });

  const cases: Array<[string, unknown, string]> = [
    [
      'bad regex',
      { all: [{ aal: 'aal2' }, { path: 'identity.traits.email', matches: '(' }] },
      'routes.0.policy.all.1.matches: invalid regular expression',
    ],
    ['unknown kind', { any: [{ role: 'admin' }] }, 'routes.0.policy.any.0: must have one of'],
    ['two kinds', { aal: 'aal2', schema_id: 'x' }, 'routes.0.policy: has aal and schema_id'],
    ['path outside traits/metadata_public', { path: 'identity.metadata_admin.role', equals: 'x' }, 'routes.0.policy.path: must be'],
    ['no comparison', { path: 'identity.traits.email' }, 'routes.0.policy: a path condition needs exactly one of'],
    [
      'two comparisons',
      { path: 'identity.traits.email', equals: 'a', ends_with: 'b' },
      'routes.0.policy: a path condition needs exactly one of',
    ],
    ['stray key', { aal: 'aal2', note: 'x' }, 'routes.0.policy.note: unknown key in a aal condition'],
    ['bad aal', { aal: 'aal3' }, 'routes.0.policy.aal: must be aal1 or aal2'],
    ['bad duration', { all: [{ authenticated_within: '15 minutes' }] }, 'routes.0.policy.all.0.authenticated_within: must be a duration'],
    ['empty all', { all: [] }, 'routes.0.policy.all: must be a non-empty list'],
    ['one_of not a list', { path: 'identity.traits.x', one_of: 'a' }, 'routes.0.policy.one_of: must be a non-empty list'],
    ['bad verified_address', { verified_address: 'identity.metadata_public.mail' }, 'routes.0.policy.verified_address: must be "any"'],
    [
      'verified_address mapping without a comparison',
      { verified_address: { path: 'identity.traits.email' } },
      'routes.0.policy.verified_address: a verified_address mapping needs exactly one of',
    ],
    [
      'verified_address mapping with two comparisons',
      { verified_address: { equals: 'a@example.com', ends_with: '@example.com' } },
      'routes.0.policy.verified_address: a verified_address mapping needs exactly one of',
    ],
    [
      'verified_address mapping with a stray key',
      { verified_address: { ends_with: '@example.com', note: 'x' } },
      'routes.0.policy.verified_address.note: unknown key in a verified_address mapping',
    ],
    [
      'verified_address path outside traits',
      { verified_address: { path: 'identity.metadata_public.mail', ends_with: 'x' } },
      'routes.0.policy.verified_address.path: must be identity.traits.',
    ],
    [
      'verified_address bad regex',
      { verified_address: { matches: '[' } },
      'routes.0.policy.verified_address.matches: invalid regular expression',
    ],
    ['verified_address not a string or mapping', { verified_address: ['any'] }, 'routes.0.policy.verified_address: must be "any"'],
    ['lower-case method', { methods: ['get'] }, 'routes.0.policy.methods: must be a non-empty list of upper-case'],
    [
      'HEAD without GET',
      { any: [{ methods: ['HEAD', 'OPTIONS'] }, { aal: 'aal2' }] },
      'routes.0.policy.any.0.methods: lists HEAD without GET',
    ],
    ['not a mapping', ['aal2'], 'routes.0.policy: must be a condition'],
  ];
  for (const [name, policy, expected] of cases) {
    test(name, () => {
      const problems = configProblems(policy);
      assert.ok(
        problems.some((p) => p.startsWith(expected)),
        `expected a problem starting with ${JSON.stringify(expected)}, got ${JSON.stringify(problems)}`,
      );
    });
  }

  test('every problem is reported at once', () => {
    const problems = configProblems({ all: [{ aal: 'x' }, { schema_id: [] }] });
    assert.equal(problems.length, 2, JSON.stringify(problems));
  });

  test('a policy on an anonymous route is refused: it could only ever refuse', () => {
    assert.deepEqual(configProblems({ aal: 'aal2' }, 'anonymous'), ["routes.0.policy: needs a session; the route's auth is anonymous"]);
  });
});
