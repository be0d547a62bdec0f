/**
 * The identity assertion's keys: loaded from `identity_assertion.key_file` (PEM blocks or a
 * JWK set; the first key signs, every key is published for rotation) or, without a file, one
 * ephemeral key per process. Only public members ever leave this module: the JWKS is built
 * from `createPublicKey(...).export({ format: 'jwk' })`, which has no private parameters.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../config/errors.js';
import type { GatewayConfig } from '../../config/schema.js';

export type AssertionConfig = GatewayConfig['identity_assertion'];
export type AssertionAlgorithm = AssertionConfig['algorithm'];

export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly use: 'sig';
  readonly [member: string]: string;
}

export interface AssertionKeys {
  readonly algorithm: AssertionAlgorithm;
  /** The signing key (the first of the file) and its RFC 7638 thumbprint. */
  readonly signingKey: KeyObject;
  readonly signingKid: string;
  /** Every key's public half, the signing key first. */
  readonly jwks: { readonly keys: readonly PublicJwk[] };
  /** `jwks` serialized once: the endpoint answers with these bytes. */
  readonly jwksBody: string;
  /** True when no key_file was configured and the key lives only in this process. */
  readonly ephemeral: boolean;
}

/** RFC 7638: the required members, in lexicographic order, without whitespace. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (members === undefined) throw new Error(`unsupported key type ${jwk.kty ?? '(none)'}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Why this key cannot sign with `algorithm`, or undefined when it can. */
function keyMismatch(key: KeyObject, algorithm: AssertionAlgorithm): string | undefined {
  const type = key.asymmetricKeyType;
  if (algorithm === 'ES256') {
    return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
      ? undefined
      : `is ${describe(key)}, ES256 needs an EC P-256 key`;
  }
  if (algorithm === 'EdDSA') return type === 'ed25519' ? undefined : `is ${describe(key)}, EdDSA needs an Ed25519 key`;
  if (type !== 'rsa') return `is ${describe(key)}, RS256 needs an RSA key`;
  return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? undefined : 'is an RSA key shorter than 2048 bits';
}

function describe(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `a${key.asymmetricKeyType === 'ec' || key.asymmetricKeyType === 'ed25519' ? 'n' : ''} ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''} key`;
}

/** The keys of a file, in order; private keys as private KeyObjects, public-only ones as public. */
function parseKeyFile(text: string): KeyObject[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const doc = JSON.parse(trimmed) as { keys?: unknown };
    const jwks = Array.isArray(doc.keys) ? (doc.keys as unknown[]) : [doc];
    return jwks.map((jwk, i) => {
      if (jwk === null || typeof jwk !== 'object') throw new Error(`keys[${i}] is not a JWK`);
      const j = jwk as JsonWebKey;
      if (j.kty === 'oct') throw new Error(`keys[${i}] is a symmetric key`);
      return 'd' in j ? createPrivateKey({ key: j, format: 'jwk' }) : createPublicKey({ key: j, format: 'jwk' });
    });
  }
  const blocks = trimmed.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM block and not a JWK set');
  return blocks.map((pem) => (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) ? createPrivateKey(pem) : createPublicKey(pem)));
}

function build(algorithm: AssertionAlgorithm, keys: readonly KeyObject[], ephemeral: boolean): AssertionKeys {
  const published: PublicJwk[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    const kid = jwkThumbprint(jwk);
    if (seen.has(kid)) continue;
    seen.add(kid);
    // Public members only (export of a public KeyObject has none other); kid, alg and use added.
    const pub: Record<string, string> = {};
    for (const m of [...THUMBPRINT_MEMBERS[jwk.kty!]!]) pub[m] = String(jwk[m]);
    published.push({ ...pub, kty: jwk.kty!, kid, alg: algorithm, use: 'sig' });
  }
  const jwks = { keys: published };
  return { algorithm, signingKey: keys[0]!, signingKid: published[0]!.kid, jwks, jwksBody: JSON.stringify(jwks), ephemeral };
}

/** Loads and checks the configured key file. Throws ConfigError naming `identity_assertion.key_file`. */
export function loadAssertionKeys(config: AssertionConfig, baseDir: string): AssertionKeys {
  if (fromPrimary !== undefined && fromPrimary.algorithm === config.algorithm) return fromPrimary;
  if (config.key_file === undefined) return ephemeralKeys(config.algorithm);
  const file = resolve(baseDir, config.key_file);
  const fail = (why: string) => new ConfigError([`identity_assertion.key_file: ${file}: ${why}`]);
  let keys: KeyObject[];
  try {
    keys = parseKeyFile(readFileSync(file, 'utf8'));
  } catch (err) {
    // The message of a parse error may quote the file; only its first line, never the key material.
    const e = err as NodeJS.ErrnoException;
    throw fail(e.code !== undefined ? `cannot read (${e.code})` : `not a usable key (${e.message.split('\n')[0]!.slice(0, 120)})`);
  }
  if (keys.length === 0) throw fail('no keys');
  if (keys[0]!.type !== 'private') throw fail('the first key signs and must be a private key');
  for (const [i, key] of keys.entries()) {
    const why = keyMismatch(key, config.algorithm);
    if (why !== undefined) throw fail(`key ${i} ${why} (identity_assertion.algorithm is ${config.algorithm})`);
  }
  return build(config.algorithm, keys, false);
}

/**
 * One per algorithm per process: a reload or a second snapshot must not replace it, or tokens
 * already handed to upstreams would stop verifying.
 */
const ephemeral = new Map<AssertionAlgorithm, AssertionKeys>();

function ephemeralKeys(algorithm: AssertionAlgorithm): AssertionKeys {
  let keys = ephemeral.get(algorithm);
  if (keys === undefined) {
    const { privateKey } =
      algorithm === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : algorithm === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = build(algorithm, [privateKey], true);
    ephemeral.set(algorithm, keys);
  }
  return keys;
}

/**
 * Keys by configuration object. startGateway loads them (relative to the configuration file's
 * directory) before the first snapshot; a reload keeps `identity_assertion` (it is not applied
 * without a restart), so every later snapshot finds the same object and the same keys.
 */
const loaded = new WeakMap<AssertionConfig, AssertionKeys>();

export function prepareAssertionKeys(config: AssertionConfig, baseDir: string): AssertionKeys {
  let keys = loaded.get(config);
  if (keys === undefined) {
    keys = loadAssertionKeys(config, baseDir);
    loaded.set(config, keys);
  }
  return keys;
}

/** The keys for this configuration: as prepared, else loaded relative to the working directory. */
export function assertionKeysFor(config: AssertionConfig): AssertionKeys {
  return prepareAssertionKeys(config, process.cwd());
}

/**
 * A cluster primary's keys for its workers (the signing key first, as a private JWK; the
 * others as published), handed over the IPC channel (never env, argv or logs): every worker
 * signs with the key the primary's JWKS endpoint publishes, whether generated at start or read
 * from key_file at start (a worker started later must not read a file rewritten since).
 */
export function assertionKeysForWorkers(config: AssertionConfig): JsonWebKey[] {
  const keys = assertionKeysFor(config);
  return [keys.signingKey.export({ format: 'jwk' }), ...keys.jwks.keys.slice(1)];
}

/** Set in a cluster worker: the primary's keys, used instead of generating or reading any. */
let fromPrimary: AssertionKeys | undefined;

/** A cluster worker: the primary's keys (assertionKeysForWorkers) become this process's, before any snapshot is built. */
export function adoptAssertionKeys(algorithm: AssertionAlgorithm, jwks: readonly JsonWebKey[], ephemeral: boolean): void {
  const [signing, ...others] = jwks;
  const keys = [createPrivateKey({ key: signing!, format: 'jwk' }), ...others.map((k) => createPublicKey({ key: k, format: 'jwk' }))];
  fromPrimary = build(algorithm, keys, ephemeral);
}
