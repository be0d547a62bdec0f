/**
 * Every bad `identity_assertion.key_file` is a configuration error, through the CLI as an
 * operator meets it: `validate` and a start both exit 2 with one `config error:` line naming
 * the key (and the variable that set it), the file and what is wrong with it; never exit 1
 * with `fatal:`, a stack, or key material.
 */
import { after, describe, test } from 'node:test';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { bothRefuse as refusedBoth } from '../../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'kgw-key-errors-'));
mkdirSync(join(dir, 'a-directory'));
after(() => rmSync(dir, { recursive: true, force: true }));

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pkcs8 = (k: KeyObject) => String(k.export({ format: 'pem', type: 'pkcs8' }));
const spki = (k: KeyObject) => String(k.export({ format: 'pem', type: 'spki' }));
const signing = p256();
const signingJwk = signing.privateKey.export({ format: 'jwk' });
const publicJwk = p256().publicKey.export({ format: 'jwk' });
/** Private members of the keys below: none may appear in any output. */
const secrets = [signingJwk.d!];

const cases: Array<{ what: string; name: string; text?: string; algorithm?: string; reason: RegExp }> = [
  { what: 'a missing file', name: 'absent.pem', reason: /cannot read \(ENOENT\)$/ },
  { what: 'a directory', name: 'a-directory', reason: /cannot read \(EISDIR\)$/ },
  { what: 'an empty file', name: 'empty.pem', text: '', reason: /no PEM block and not a JWK set$/ },
  { what: 'garbage', name: 'garbage.pem', text: 'not a key\n', reason: /no PEM block and not a JWK set$/ },
  {
    what: 'a JWK set that is not valid JSON',
    name: 'broken.json',
    text: `{"keys": [{"kty": "EC", "crv": "P-256", "d": "${signingJwk.d}" "x": "${signingJwk.x}"}]}`,
    reason: /not valid JSON \(line 1, column \d+\)$/,
  },
  {
    what: 'a file larger than 1 MiB',
    name: 'huge.pem',
    text: pkcs8(signing.privateKey) + '#'.repeat(1024 * 1024),
    reason: /larger than 1 MiB: not a key file$/,
  },
  { what: 'an empty JWK set', name: 'none.json', text: '{"keys": []}', reason: /no keys$/ },
  { what: 'public keys only (PEM)', name: 'public.pem', text: spki(signing.publicKey), reason: /no private key to sign with/ },
  {
    what: 'public keys only (JWK set)',
    name: 'public.json',
    text: JSON.stringify({ keys: [publicJwk] }),
    reason: /no private key to sign with/,
  },
  {
    what: 'a symmetric JWK',
    name: 'oct.json',
    text: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
    reason: /key 0 is a symmetric key/,
  },
  {
    what: 'an X25519 key (not a signing key)',
    name: 'x25519.pem',
    text: pkcs8(generateKeyPairSync('x25519').privateKey),
    reason: /key 0 is an x25519 key, ES256 needs an EC P-256 key/,
  },
  {
    what: 'an Ed448 key for EdDSA',
    name: 'ed448.pem',
    algorithm: 'EdDSA',
    text: pkcs8(generateKeyPairSync('ed448').privateKey),
    reason: /key 0 is an ed448 key, EdDSA needs an Ed25519 key/,
  },
  {
    what: 'a P-384 key for ES256',
    name: 'p384.pem',
    text: pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey),
    reason: /key 0 is an ec \(secp384r1\) key, ES256 needs an EC P-256 key/,
  },
  {
    what: 'a published key of an unsupported curve after the signing key',
    name: 'p384-public.pem',
    text: pkcs8(signing.privateKey) + spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
    reason: /key 1 is an ec \(secp384r1\) key: not a key for ES256, EdDSA or RS256/,
  },
  {
    what: 'a published RSA key shorter than 2048 bits',
    name: 'rsa1024-public.pem',
    text: pkcs8(signing.privateKey) + spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
    reason: /key 1 is an RSA key shorter than 2048 bits/,
  },
  {
    what: 'the same key twice (duplicate kid)',
    name: 'twice.pem',
    text: pkcs8(signing.privateKey) + spki(signing.publicKey),
    reason: /key 1 is key 0 again \(kid [\w-]+\)/,
  },
  {
    what: 'a PEM private key block that does not decode',
    name: 'corrupt.pem',
    text: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n',
    reason: /key 0 \(PEM PRIVATE KEY\) is not a usable private key/,
  },
  {
    what: 'an encrypted private key',
    name: 'encrypted.pem',
    text: String(signing.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' })),
    reason: /key 0 \(PEM ENCRYPTED PRIVATE KEY\) is encrypted: the gateway reads no passphrase$/,
  },
  {
    what: 'a PEM block that is not a key',
    name: 'params.pem',
    text: '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n' + pkcs8(signing.privateKey),
    reason: /key 0 \(PEM EC PARAMETERS\) is not a key block: only PRIVATE KEY and PUBLIC KEY blocks are read$/,
  },
  {
    what: 'a JWK whose alg is not what the key is',
    name: 'alg.json',
    text: JSON.stringify({ keys: [{ ...signingJwk, alg: 'RS256' }] }),
    reason: /key 0 declares alg "RS256" but is an EC P-256 key \(ES256\)/,
  },
  {
    what: 'a JWK for encryption',
    name: 'enc.json',
    text: JSON.stringify({ keys: [signingJwk, { ...publicJwk, use: 'enc' }] }),
    reason: /key 1 declares use "enc", not "sig"/,
  },
];

function configFile(name: string, keyFile: string | undefined, algorithm = 'ES256'): string {
  const file = join(dir, `${name}.gateway.yaml`);
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { port: 0 } },
      admin: { listen: { port: 0 } },
      ui: { enabled: false },
      identity_assertion: { enabled: true, algorithm, ...(keyFile !== undefined && { key_file: keyFile }) },
    }),
  );
  return file;
}

/** `validate` and a start both exit 2 with exactly one `config error:` line matching `expected`, and no key material. */
const bothRefuse = (file: string, expected: RegExp, env: Record<string, string> = {}) =>
  refusedBoth(file, expected, env, [...secrets, 'PRIVATE KEY-----', 'c2VjcmV0']);

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('a bad identity_assertion.key_file: validate and start exit 2 with a config error', () => {
  for (const c of cases) {
    test(c.what, async () => {
      if (c.text !== undefined) writeFileSync(join(dir, c.name), c.text);
      const file = configFile(c.name, c.name, c.algorithm);
      const prefix = `^config error: identity_assertion\\.key_file: ${escaped(join(dir, c.name))}: `;
      await bothRefuse(file, new RegExp(prefix + c.reason.source));
    });
  }

  test('set through the environment: the line names the variable', async () => {
    const file = configFile('env', undefined);
    await bothRefuse(
      file,
      new RegExp(
        `^config error: KRATOS_GATEWAY_IDENTITY_ASSERTION__KEY_FILE \\(identity_assertion\\.key_file\\): ${escaped(join(dir, 'absent-from-env.pem'))}: cannot read \\(ENOENT\\)$`,
      ),
      { KRATOS_GATEWAY_IDENTITY_ASSERTION__KEY_FILE: 'absent-from-env.pem' },
    );
  });
});
