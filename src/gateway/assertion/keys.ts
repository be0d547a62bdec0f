/**
 * The identity assertion's keys: loaded from `identity_assertion.key_file` (PEM blocks or a
 * JWK set, read by key-file.ts: the first private key signs, every other key is published for
 * verification only, so a rotation keeps the old key as a public key) or, without a file, one
 * ephemeral key per process. Only public members ever leave this module: the JWKS holds the
 * public halves, exported from public KeyObjects.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError } from '../../config/errors.js';
import type { GatewayConfig } from '../../config/schema.js';
import { readKeyFileAt } from './key-file-read.js';
import { algorithmOf, KeyFileError, publicJwk, readKeyFile, type AssertionAlgorithm, type PublicJwk } from './key-file.js';

export type AssertionConfig = GatewayConfig['identity_assertion'];
export type { AssertionAlgorithm, PublicJwk } from './key-file.js';

export interface AssertionKeys {
  readonly algorithm: AssertionAlgorithm;
  /** The signing key (the first private key of the file) and its RFC 7638 thumbprint. */
  readonly signingKey: KeyObject;
  readonly signingKid: string;
  /** Every key's public half, the signing key first. */
  readonly jwks: { readonly keys: readonly PublicJwk[] };
  /** `jwks` serialized once: the endpoint answers with these bytes. */
  readonly jwksBody: string;
  /** True when no key_file was configured and the key lives only in this process. */
  readonly ephemeral: boolean;
}

function build(algorithm: AssertionAlgorithm, signingKey: KeyObject, published: PublicJwk[], ephemeral: boolean): AssertionKeys {
  const jwks = { keys: published };
  return { algorithm, signingKey, signingKid: published[0]!.kid, jwks, jwksBody: JSON.stringify(jwks), ephemeral };
}

/** Loads and checks the configured key file. Throws ConfigError naming `identity_assertion.key_file`. */
export function loadAssertionKeys(config: AssertionConfig, baseDir: string): AssertionKeys {
  if (fromPrimary !== undefined && fromPrimary.algorithm === config.algorithm) return fromPrimary;
  if (config.key_file === undefined) return ephemeralKeys(config.algorithm);
  const file = resolve(baseDir, config.key_file);
  const fail = (why: string) => new ConfigError([`identity_assertion.key_file: ${file}: ${why}`]);
  try {
    const { signingKey, published } = readKeyFile(readKeyFileAt(file), config.algorithm);
    return build(config.algorithm, signingKey, published, false);
  } catch (err) {
    if (err instanceof KeyFileError) throw fail(err.message);
    throw err;
  }
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
    keys = build(algorithm, privateKey, [publicJwk(privateKey, algorithm)], true);
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

/** The keys prepared for this configuration, if any were. */
export function preparedAssertionKeys(config: AssertionConfig): AssertionKeys | undefined {
  return loaded.get(config);
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
  const signingKey = createPrivateKey({ key: signing!, format: 'jwk' });
  // The others are public JWKs as the primary publishes them, each with the algorithm it is a key for.
  const published = others.map((jwk) => {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    return publicJwk(key, algorithmOf(key) as AssertionAlgorithm);
  });
  fromPrimary = build(algorithm, signingKey, [publicJwk(signingKey, algorithm), ...published], ephemeral);
}
