/**
 * Trusted proxies (src/gateway/trusted-proxies.ts): X-Forwarded-* is believed only from a
 * configured CIDR list, empty by default (oauth2-proxy GHSA-7x63-xv5r-3p2x, Oathkeeper
 * GHSA-vhr5-ggp3-qq85); X-Forwarded-For is walked right to left.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { TrustedProxies } from '../../../src/gateway/trusted-proxies.js';

/** Why the configuration validation rejects these entries (config/cidr.ts). */
function configError(cidrs: string[]): string {
  try {
    parseConfig({ proxy: { trusted_proxies: cidrs } });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.join('\n');
  }
  assert.fail(`expected ${JSON.stringify(cidrs)} to be rejected`);
}

describe('trusts', () => {
  const t = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '2001:db8::1']);

  test('IPv4 CIDR', () => {
    assert.equal(t.trusts('10.0.0.1'), true);
    assert.equal(t.trusts('10.255.255.255'), true);
    assert.equal(t.trusts('11.0.0.0'), false);
    assert.equal(t.trusts('9.255.255.255'), false);
  });
  test('a single IPv4 address', () => {
    assert.equal(t.trusts('192.168.1.7'), true);
    assert.equal(t.trusts('192.168.1.8'), false);
  });
  test('IPv6 CIDR and address', () => {
    assert.equal(t.trusts('fd12:3456::1'), true);
    assert.equal(t.trusts('fe80::1'), false);
    assert.equal(t.trusts('2001:db8::1'), true);
    assert.equal(t.trusts('2001:db8::2'), false);
  });
  test('IPv4-mapped IPv6 peers (dual-stack sockets) are checked as IPv4', () => {
    assert.equal(t.trusts('::ffff:10.1.2.3'), true);
    assert.equal(t.trusts('::ffff:192.168.1.7'), true);
    assert.equal(t.trusts('::ffff:8.8.8.8'), false);
  });
  test('missing or malformed addresses are never trusted', () => {
    for (const a of [undefined, '', 'localhost', '10.0.0.1:8080', '10.0.0', ' 10.0.0.1', 'unknown'])
      assert.equal(t.trusts(a), false, String(a));
  });
  test('an empty list trusts nobody, loopback included', () => {
    const none = new TrustedProxies([]);
    assert.equal(none.empty, true);
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.1']) assert.equal(none.trusts(a), false, a);
  });
  test('/0 trusts a whole family, and only that family', () => {
    const all4 = new TrustedProxies(['0.0.0.0/0']);
    assert.equal(all4.trusts('8.8.8.8'), true);
    assert.equal(all4.trusts('2001:db8::1'), false);
  });
});

describe('clientAddress', () => {
  const t = new TrustedProxies(['10.0.0.0/8']);

  test('an untrusted peer: X-Forwarded-For is ignored', () => {
    assert.equal(t.clientAddress('203.0.113.5', '1.2.3.4'), '203.0.113.5');
  });
  test('an empty list: X-Forwarded-For is ignored even from loopback', () => {
    assert.equal(new TrustedProxies([]).clientAddress('127.0.0.1', '1.2.3.4'), '127.0.0.1');
  });
  test('a trusted peer without X-Forwarded-For: the peer', () => {
    assert.equal(t.clientAddress('10.0.0.2', undefined), '10.0.0.2');
  });
  test('right to left: the first untrusted hop is the client; a client-prepended fake is ignored', () => {
    assert.equal(t.clientAddress('10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.3'), '203.0.113.7');
    assert.equal(t.clientAddress('10.0.0.2', '127.0.0.1,203.0.113.7'), '203.0.113.7');
    assert.equal(t.clientAddress('10.0.0.2', '203.0.113.7'), '203.0.113.7');
  });
  test('a trusted IPv4-mapped peer is handled like IPv4', () => {
    assert.equal(t.clientAddress('::ffff:10.0.0.2', '6.6.6.6, 203.0.113.7'), '203.0.113.7');
  });
  test('a malformed right-most untrusted hop does not become the client address', () => {
    assert.equal(t.clientAddress('10.0.0.2', '6.6.6.6, evil<script>'), '10.0.0.2');
    assert.equal(t.clientAddress('10.0.0.2', '6.6.6.6, '), '10.0.0.2');
  });
  test('every hop trusted: the left-most hop', () => {
    assert.equal(t.clientAddress('10.0.0.2', '10.0.0.9, 10.0.0.8'), '10.0.0.9');
  });
  test('IPv6 hops', () => {
    const v6 = new TrustedProxies(['fd00::/8']);
    assert.equal(v6.clientAddress('fd00::1', '2001:db8::7, fd00::2'), '2001:db8::7');
  });
  test('undefined peer stays undefined', () => {
    assert.equal(t.clientAddress(undefined, '1.2.3.4'), undefined);
  });
});

describe('configuration errors', () => {
  test('invalid entries are rejected with proxy.trusted_proxies.N in the message', () => {
    const cases: Array<[string[], number]> = [
      [['not-an-ip'], 0],
      [['10.0.0.0/8', 'example.com'], 1],
      [['10.0.0.0/8', '::/0', '10.0.0.0/33'], 2],
      [['::/129'], 0],
      [['10.0.0.0/-1'], 0],
      [['10.0.0.0/8.5'], 0],
      [['10.0.0.0/abc'], 0],
      [['300.0.0.0/8'], 0],
      [[''], 0],
      [['/8'], 0],
    ];
    for (const [cidrs, index] of cases) {
      const msg = configError(cidrs);
      assert.match(msg, new RegExp(`^proxy\\.trusted_proxies\\.${index}: `), `${JSON.stringify(cidrs)} → ${msg}`);
      assert.ok(msg.includes(JSON.stringify(cidrs[index])), `message quotes the entry: ${msg}`);
    }
  });
  test('a missing prefix length after "/" is rejected, not read as /0 (trust everyone)', () => {
    assert.match(configError(['10.0.0.0/']), /^proxy\.trusted_proxies\.0: /);
    assert.match(configError(['fd00::/']), /^proxy\.trusted_proxies\.0: /);
  });
  test('a prefix length that is not plain decimal digits is rejected', () => {
    for (const entry of ['10.0.0.0/ 8', '10.0.0.0/0x8', '10.0.0.0/8e0', '10.0.0.0/+8', '10.0.0.0/8/8']) {
      assert.match(configError([entry]), /^proxy\.trusted_proxies\.0: /, entry);
    }
  });
});
