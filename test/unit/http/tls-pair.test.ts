/**
 * A certificate and key pair is checked the way a TLS server would use it, and each refusal
 * names the file at fault and why, without key material.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, issueCertificate, OPENSSL } from '../../helpers/certificates.js';
import { readTlsPair, TlsPairError, type TlsFiles } from '../../../src/http/tls-pair.js';

const dir = mkdtempSync(join(tmpdir(), 'kg-tls-pair-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ca = createTestCa(dir);
const a = issueCertificate(ca, dir, { name: 'a' });
const b = issueCertificate(ca, dir, { name: 'b', keyType: 'rsa' });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refusal(files: TlsFiles): TlsPairError {
  try {
    readTlsPair(files);
  } catch (err) {
    assert.ok(err instanceof TlsPairError, `a TlsPairError, not ${String(err)}`);
    // Never key material in a message.
    for (const key of [a.key, b.key]) assert.ok(!err.message.includes(key.split('\n')[1]!), 'no key bytes in the message');
    return err;
  }
  assert.fail('the pair was accepted');
}

describe('TLS pair', () => {
  it('reads a matching pair, EC or RSA, and reports the leaf fingerprint', () => {
    for (const c of [a, b]) {
      const pair = readTlsPair({ certFile: c.certFile, keyFile: c.keyFile });
      assert.equal(pair.fingerprint256, c.fingerprint256);
      assert.match(pair.subject, /CN=127\.0\.0\.1/);
    }
  });

  it('accepts a chain (leaf then CA) in the certificate file', () => {
    const chain = file('chain.crt', a.cert + ca.cert);
    assert.equal(readTlsPair({ certFile: chain, keyFile: a.keyFile }).fingerprint256, a.fingerprint256);
  });

  it('names the missing file', () => {
    const err = refusal({ certFile: join(dir, 'nope.crt'), keyFile: a.keyFile });
    assert.equal(err.file, 'cert_file');
    assert.equal(err.message, `${join(dir, 'nope.crt')}: cannot read (ENOENT)`);
    assert.equal(refusal({ certFile: a.certFile, keyFile: join(dir, 'nope.key') }).file, 'key_file');
  });

  it('refuses a key that does not match the certificate, naming key_file and the certificate', () => {
    const err = refusal({ certFile: a.certFile, keyFile: b.keyFile });
    assert.equal(err.file, 'key_file');
    assert.equal(err.message, `${b.keyFile}: does not match the certificate in ${a.certFile} (its public key is another)`);
  });

  it('refuses files that are not PEM, and says when the two are swapped', () => {
    assert.match(refusal({ certFile: file('junk.crt', 'hello\n'), keyFile: a.keyFile }).message, /no PEM certificate in it/);
    assert.match(refusal({ certFile: a.certFile, keyFile: file('junk.key', 'hello\n') }).message, /no PEM private key in it/);
    const swapped = refusal({ certFile: a.keyFile, keyFile: a.certFile });
    assert.equal(swapped.file, 'cert_file');
    assert.match(swapped.message, /holds a private key, not a certificate \(are cert_file and key_file swapped\?\)/);
    assert.match(refusal({ certFile: a.certFile, keyFile: a.certFile }).message, /holds a certificate, not a private key/);
  });

  it('refuses a damaged certificate', () => {
    const damaged = a.cert.replace(/\n[A-Za-z0-9+/]{20}/, '\n' + 'A'.repeat(20));
    const err = refusal({ certFile: file('damaged.crt', damaged), keyFile: a.keyFile });
    assert.equal(err.file, 'cert_file');
    assert.match(err.message, /its first certificate cannot be read/);
  });

  it('refuses an encrypted key: the gateway reads no passphrase', () => {
    const encrypted = join(dir, 'enc.key');
    execFileSync(OPENSSL, ['pkey', '-in', a.keyFile, '-aes256', '-passout', 'pass:secret-pass', '-out', encrypted]);
    const err = refusal({ certFile: a.certFile, keyFile: encrypted });
    assert.equal(err.file, 'key_file');
    assert.match(err.message, /the private key is encrypted and the gateway reads no passphrase/);
  });

  it('refuses a file larger than 1 MiB without reading it all', () => {
    assert.match(refusal({ certFile: '/dev/zero', keyFile: a.keyFile }).message, /larger than 1 MiB: not a PEM file/);
  });
});
