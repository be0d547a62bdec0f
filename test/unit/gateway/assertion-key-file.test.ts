/** How a key file's keys are classified (docs/identity-assertion.md, "The key file"). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { KeyFileError, readKeyFile } from '../../../src/gateway/assertion/key-file.js';
import { MAX_KEY_FILE_BYTES, readKeyFileAt } from '../../../src/gateway/assertion/key-file-read.js';

const pkcs8 = (k: KeyObject) => String(k.export({ format: 'pem', type: 'pkcs8' }));
const spki = (k: KeyObject) => String(k.export({ format: 'pem', type: 'spki' }));
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

function refused(text: string, reason: RegExp): void {
  assert.throws(
    () => readKeyFile(text, 'ES256'),
    (err: unknown) => err instanceof KeyFileError && reason.test(err.message),
  );
}

describe('identity assertion key file', () => {
  test('the first private key signs wherever it stands; public keys before it are published after it', () => {
    const [before, signer, after] = [p256(), p256(), p256()];
    const { signingKey, published } = readKeyFile(spki(before.publicKey) + pkcs8(signer.privateKey) + spki(after.publicKey), 'ES256');
    assert.equal(signingKey.type, 'private');
    assert.equal(signingKey.export({ format: 'jwk' }).x, signer.publicKey.export({ format: 'jwk' }).x);
    assert.deepEqual(
      published.map((k) => k.x),
      [signer, before, after].map((k) => k.publicKey.export({ format: 'jwk' }).x),
    );
  });

  test('each published key carries the algorithm it is a key for, and a token it signed verifies', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ed = generateKeyPairSync('ed25519');
    const { published } = readKeyFile(pkcs8(p256().privateKey) + spki(rsa.publicKey) + pkcs8(ed.privateKey), 'ES256');
    assert.deepEqual(
      published.map((k) => [k.kty, k.alg, k.use]),
      [
        ['EC', 'ES256', 'sig'],
        ['RSA', 'RS256', 'sig'],
        ['OKP', 'EdDSA', 'sig'],
      ],
    );
    for (const k of published)
      assert.deepEqual(
        Object.keys(k).filter((m) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(m)),
        [],
      );
    // Signed with the old RSA key before `algorithm` changed to ES256: still verifies.
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: published[1]!.kid }).sign(rsa.privateKey);
    await jwtVerify(token, createLocalJWKSet({ keys: published.map((k) => ({ ...k })) }));
  });

  test('kid is the RFC 7638 thumbprint; a JWK as the JWKS publishes it is accepted, its own kid is not used', async () => {
    const signer = p256().privateKey.export({ format: 'jwk' });
    const first = readKeyFile(JSON.stringify({ keys: [signer] }), 'ES256').published[0]!;
    assert.equal(first.kid, await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: signer.x!, y: signer.y! }));
    // The other key's entry as a running gateway publishes it (kid, alg, use), copied back into the file.
    const entry = readKeyFile(JSON.stringify({ keys: [signer, p256().publicKey.export({ format: 'jwk' })] }), 'ES256').published[1]!;
    const copied = readKeyFile(JSON.stringify({ keys: [{ ...signer, kid: 'mine' }, entry] }), 'ES256');
    assert.equal(copied.published[0]!.kid, first.kid);
    assert.deepEqual(copied.published[1], entry);
  });

  test('text around PEM blocks is ignored; a single JWK is a set of one', () => {
    const k = p256();
    assert.equal(
      readKeyFile(`# new key, 2025\n${pkcs8(k.privateKey)}\nold key below\n${spki(p256().publicKey)}`, 'ES256').published.length,
      2,
    );
    assert.equal(readKeyFile(JSON.stringify(k.privateKey.export({ format: 'jwk' })), 'ES256').published.length, 1);
  });

  test('refused: a PEM block cut short, key_ops without sign or verify, a JSON error V8 would quote', () => {
    const k = p256();
    refused(
      pkcs8(k.privateKey) + spki(p256().publicKey).split('\n').slice(0, 2).join('\n'),
      /^1 PEM block\(s\) without a matching END line$/,
    );
    const jwk = k.privateKey.export({ format: 'jwk' });
    refused(JSON.stringify({ keys: [{ ...jwk, key_ops: ['verify'] }] }), /^key 0 declares key_ops \["verify"\] without "sign"$/);
    refused(JSON.stringify({ keys: [jwk, { ...p256().publicKey.export({ format: 'jwk' }), key_ops: ['encrypt'] }] }), /without "verify"$/);
    const text = `{"keys": [{"kty": "EC", "d": ${jwk.d}}]}`; // unquoted: V8's message would quote it
    assert.throws(
      () => readKeyFile(text, 'ES256'),
      (err: unknown) => err instanceof KeyFileError && /^not valid JSON/.test(err.message) && !err.message.includes(jwk.d!.slice(0, 8)),
    );
  });

  test('refused: an RSA key whose public exponent is not an odd number of at least 65537 (e = 1 lets anyone sign)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = p256().privateKey.export({ format: 'jwk' });
    // e = 1 is AQ, 3 is Aw, 65536 is AQAA.
    for (const e of ['AQ', 'Aw', 'AQAA'])
      refused(
        JSON.stringify({ keys: [signer, { ...rsa.publicKey.export({ format: 'jwk' }), e }] }),
        /^key 1 is an RSA key whose public exponent is not an odd number of at least 65537$/,
      );
    const weak = { ...rsa.privateKey.export({ format: 'jwk' }), e: 'AQ' };
    assert.throws(
      () => readKeyFile(JSON.stringify({ keys: [weak] }), 'RS256'),
      (err: unknown) => err instanceof KeyFileError && /^key 0 is an RSA key whose public exponent/.test(err.message),
    );
  });

  test('refused: a PEM block that is not a key (a certificate would publish whoever holds its key)', () => {
    const cert = readFileSync(new URL('../../fixtures/assertion-ca-cert.pem', import.meta.url), 'utf8');
    refused(
      pkcs8(p256().privateKey) + cert,
      /^key 1 \(PEM CERTIFICATE\) is not a key block: only PRIVATE KEY and PUBLIC KEY blocks are read$/,
    );
  });

  test('refused: a file larger than 1 MiB, read no further than that', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kgw-key-size-'));
    try {
      const file = join(dir, 'big.pem');
      writeFileSync(file, pkcs8(p256().privateKey) + '#'.repeat(MAX_KEY_FILE_BYTES));
      assert.throws(
        () => readKeyFileAt(file),
        (err: unknown) => err instanceof KeyFileError && err.message === 'larger than 1 MiB: not a key file',
      );
      // Not a regular file and never ending: read up to the bound, then refused.
      assert.throws(
        () => readKeyFileAt('/dev/zero'),
        (err: unknown) => err instanceof KeyFileError && err.message === 'larger than 1 MiB: not a key file',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a JWK member the message shows is quoted on one line and shortened', () => {
    const jwk = p256().privateKey.export({ format: 'jwk' });
    refused(
      JSON.stringify({ keys: [{ ...jwk, alg: 'RS256\nconfig error: forged' }] }),
      /^key 0 declares alg "RS256\\nconfig error: forged" but/,
    );
    for (const member of [{ alg: 'x'.repeat(5000) }, { use: 'x'.repeat(5000) }, { key_ops: ['x'.repeat(5000)] }])
      assert.throws(
        () => readKeyFile(JSON.stringify({ keys: [{ ...jwk, ...member }] }), 'ES256'),
        (err: unknown) => err instanceof KeyFileError && err.message.length < 200 && !err.message.includes('\n'),
      );
  });
});
