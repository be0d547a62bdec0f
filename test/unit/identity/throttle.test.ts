import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Throttle, type ThrottleConfig } from '../../../src/identity/x/throttle.js';

const limit = { maxFailures: 3, baseDelayMs: 1000, maxDelayMs: 60_000, resetAfterMs: 3_600_000 };
const cfg = (over: Partial<ThrottleConfig> = {}): ThrottleConfig => ({
  enabled: true,
  trustedProxies: ['127.0.0.0/8', '::1'],
  perIdentifier: limit,
  perClient: { ...limit, maxFailures: 10 },
  maxTracked: 100,
  ...over,
});

test('memory stays bounded by max_tracked however many identifiers and addresses fail', () => {
  const t = new Throttle(cfg());
  for (let i = 0; i < 5000; i++) {
    const k = t.keys(`user-${i}@example.com`, `10.0.${i >> 8}.${i & 255}`);
    assert.equal(t.begin(k, 0).allowed, true);
    t.failed(k, 0);
  }
  assert.deepEqual(t.tracked, { identifiers: 100, clients: 100 });
});

test('the least recently touched records are the ones dropped; a record under attack stays', () => {
  const t = new Throttle(cfg({ maxTracked: 10 }));
  const victim = t.keys('victim@example.com', '10.9.9.9');
  for (let i = 0; i < 3; i++) {
    t.begin(victim, 0);
    t.failed(victim, 0);
  }
  for (let i = 0; i < 50; i++) {
    const k = t.keys(`other-${i}@example.com`, '10.1.1.1');
    t.begin(k, 0);
    t.failed(k, 0);
    // The attacker keeps trying the victim, which keeps its record fresh.
    assert.equal(t.begin(victim, 0).allowed, false);
  }
});

test('client address: peer unless the peer is trusted; then X-Forwarded-For right to left past trusted hops', () => {
  const t = new Throttle(cfg({ trustedProxies: ['127.0.0.0/8', '::1', '10.0.0.0/8'] }));
  assert.equal(t.clientAddress('192.0.2.1', '198.51.100.1'), '192.0.2.1');
  assert.equal(t.clientAddress('127.0.0.1', undefined), '127.0.0.1');
  assert.equal(t.clientAddress('127.0.0.1', '198.51.100.1'), '198.51.100.1');
  assert.equal(t.clientAddress('::ffff:127.0.0.1', '198.51.100.1'), '198.51.100.1');
  assert.equal(t.clientAddress('::1', '203.0.113.5, 198.51.100.1, 10.1.2.3'), '198.51.100.1');
  assert.equal(t.clientAddress('127.0.0.1', ['203.0.113.5', '198.51.100.1']), '198.51.100.1');
  assert.equal(t.clientAddress('127.0.0.1', 'not-an-ip'), '127.0.0.1');
  assert.equal(t.clientAddress('127.0.0.1', '10.0.0.1, 127.0.0.1'), '10.0.0.1');
  assert.equal(new Throttle(cfg({ trustedProxies: [] })).clientAddress('127.0.0.1', '198.51.100.1'), '127.0.0.1');
});

test('identifier keys are normalised and hashed (no identifiers kept in memory)', () => {
  const t = new Throttle(cfg());
  const a = t.keys(' Alice@Example.com ', 'c');
  assert.deepEqual(a, t.keys('alice@example.com', 'c'));
  assert.doesNotMatch(a.identifier, /alice/);
});
