/**
 * The compact summary the cache keeps (src/gateway/session/packed-summary.ts) reads exactly as
 * the Maps and Sets it replaces: every value and claim of every kind of trait, through
 * summarizeSession and through the Redis codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHeaderValue } from '../../../../src/http/header-value.js';
import { PackedSummary, SummaryLayout } from '../../../../src/gateway/session/packed-summary.js';
import { summarizeSession, type SessionSummary } from '../../../../src/gateway/session/session-summary.js';
import { decodeStoredValue, encodeStoredValue, summaryShapeOf } from '../../../../src/gateway/session/store/redis/stored-value-codec.js';
import { plainSummary } from './plain-summary.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function body(traits: Record<string, unknown>, addresses: string[] = []): Record<string, unknown> {
  return {
    id: 'sess-1',
    active: true,
    expires_at: '2026-01-02T00:00:00Z',
    identity: {
      id: 'id-1',
      schema_id: 'default',
      traits,
      verifiable_addresses: addresses.map((value) => ({ value, verified: true })),
    },
  };
}

function summarize(b: unknown, paths: string[]): SessionSummary {
  const s = summarizeSession(b, paths, NOW);
  assert.ok(s instanceof PackedSummary);
  return s;
}

/** What a claim is, restated from the policy documentation: a scalar, or the scalars of a list (at most 64). */
function expectedClaim(v: unknown): string[] | undefined {
  const one = (x: unknown) =>
    (typeof x === 'string' && x.length <= 4096) || typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined;
  if (Array.isArray(v)) {
    const out = v.slice(0, 64).flatMap((x) => one(x) ?? []);
    return out.length > 0 ? out : undefined;
  }
  const s = one(v);
  return s === undefined ? undefined : [s];
}

const trait = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', '%41', 'a\r\nb', 'Ünal'),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant({ x: 1 })), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string(), { maxKeys: 2 }),
);

test('values and claims read as the configuration asked, for any trait values', () => {
  fc.assert(
    fc.property(fc.array(trait, { minLength: 1, maxLength: 6 }), (traits) => {
      const t = Object.fromEntries(traits.map((v, i) => [`t${i}`, v]));
      const paths = [...traits.map((_, i) => `identity.traits.t${i}`), 'identity.traits.missing', 'session.id'];
      const s = summarize(body(t), paths);
      const values = new Map<string, string>();
      const claims = new Map<string, string[]>();
      traits.forEach((v, i) => {
        const path = `identity.traits.t${i}`;
        const h = toHeaderValue(v);
        if (h !== undefined && h !== '') values.set(path, h);
        const c = expectedClaim(v);
        if (c !== undefined) claims.set(path, c);
      });
      values.set('session.id', 'sess-1');
      assert.deepEqual(new Map(s.values), values);
      assert.deepEqual(new Map([...s.claims!].map(([k, v]) => [k, [...v]])), claims);
      for (const path of paths) {
        assert.equal(s.values.get(path), values.get(path));
        assert.equal(s.values.has(path), values.has(path));
        assert.deepEqual(s.claims!.get(path), claims.get(path));
        assert.equal(s.claims!.has(path), claims.has(path));
      }
      assert.equal(s.values.size, values.size);
      assert.equal(s.claims!.size, claims.size);
      assert.deepEqual(plainSummary(decodeStoredValue(encodeStoredValue(s))), plainSummary(s), 'and through the Redis codec');
    }),
    { numRuns: 300 },
  );
});

test('more claim paths than a bit mask holds: every one still reads right', () => {
  const traits = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, i % 3 === 0 ? [`a${i}`, `b${i}`] : `v${i}`]));
  const s = summarize(
    body(traits),
    Object.keys(traits).map((k) => `identity.traits.${k}`),
  );
  for (let i = 0; i < 40; i++) {
    const path = `identity.traits.t${i}`;
    assert.deepEqual(s.claims!.get(path), i % 3 === 0 ? [`a${i}`, `b${i}`] : [`v${i}`], path);
    assert.equal(s.values.get(path), i % 3 === 0 ? `["a${i}","b${i}"]` : `v${i}`, path);
  }
});

test('verified addresses: a set of the lower-cased verified ones, sharing the string a value holds', () => {
  const s = summarize(body({ email: 'a@example.org' }, ['a@example.org', 'B@Example.org']), ['identity.traits.email']);
  assert.deepEqual([...s.verifiedAddresses!].sort(), ['a@example.org', 'b@example.org']);
  assert.equal(s.verifiedAddresses!.size, 2);
  assert.ok(s.verifiedAddresses!.has('b@example.org') && !s.verifiedAddresses!.has('B@Example.org'));
  const one = summarize(body({ email: 'a@example.org' }, ['a@example.org']), ['identity.traits.email']);
  assert.deepEqual([...one.verifiedAddresses!], ['a@example.org']);
  assert.ok(one.verifiedAddresses!.has('a@example.org'));
  const none = summarize(body({}), []);
  assert.equal(none.verifiedAddresses!.size, 0);
  assert.equal(none.verifiedAddresses!.has(''), false);
});

test('summaries of one configuration share one layout; the codec gives back a packed summary', () => {
  const layout = new SummaryLayout(['identity.traits.email', 'identity.traits.email', 'session.id']);
  assert.deepEqual(layout.paths, ['identity.traits.email', 'session.id'], 'duplicates once');
  const a = summarizeSession(body({ email: 'a@example.org' }), layout, NOW) as PackedSummary;
  const b = summarizeSession(body({ email: 'b@example.org' }), layout, NOW) as PackedSummary;
  assert.equal(a.values.layout, b.values.layout);
  assert.equal(SummaryLayout.of(['x.y']), SummaryLayout.of(['x.y']));
  const decoded = decodeStoredValue(encodeStoredValue(a));
  assert.ok(decoded instanceof PackedSummary);
  assert.equal(decoded.values.get('identity.traits.email'), 'a@example.org');
});

test("values read back from Redis are packed by the configuration's one layout, however many sets of paths they hold", () => {
  // Which paths a value holds depends on each identity's traits: 9 optional ones give 512 sets.
  // A layout per set (past a bounded cache, a fresh one per value) would be kept alive by every
  // entry and counted by no size estimate.
  const paths = Array.from({ length: 9 }, (_, i) => `identity.traits.t${i}`);
  const shape = summaryShapeOf(paths);
  const texts: string[] = [];
  for (let m = 0; m < 512; m++) {
    const traits: Record<string, string> = {};
    for (let i = 0; i < 9; i++) if (m & (1 << i)) traits[`t${i}`] = `v${m}-${i}`;
    texts.push(encodeStoredValue(summarize(body(traits), paths), shape));
  }
  for (const [m, text] of texts.entries()) {
    const decoded = decodeStoredValue(text, shape);
    assert.ok(decoded instanceof PackedSummary);
    assert.equal(decoded.values.layout, shape.layout, `value ${m}`);
    for (let i = 0; i < 9; i++) {
      const want = m & (1 << i) ? `v${m}-${i}` : undefined;
      assert.equal(decoded.values.get(`identity.traits.t${i}`), want);
      assert.deepEqual(decoded.claims.get(`identity.traits.t${i}`), want === undefined ? undefined : [want]);
    }
  }
});

test('a value read back that names a path the configuration does not extract is a miss', () => {
  const shape = summaryShapeOf(['identity.traits.email', 'session.id']);
  const s = summarize(body({ email: 'a@example.org' }), ['identity.traits.email', 'session.id']);
  const e = JSON.parse(encodeStoredValue(s, shape)) as { values: [string, string][]; claims: [string, string[]][] };
  assert.ok(decodeStoredValue(JSON.stringify(e), shape) instanceof PackedSummary);
  const extraValue = { ...e, values: [...e.values, ['identity.traits.role', 'admin']] };
  assert.equal(decodeStoredValue(JSON.stringify(extraValue), shape), undefined);
  const extraClaim = { ...e, claims: [...e.claims, ['identity.traits.role', ['admin']]] };
  assert.equal(decodeStoredValue(JSON.stringify(extraClaim), shape), undefined);
  const claimOfNoClaim = { ...e, claims: [...e.claims, ['session.id', ['x']]] };
  assert.equal(decodeStoredValue(JSON.stringify(claimOfNoClaim), shape), undefined);
});
