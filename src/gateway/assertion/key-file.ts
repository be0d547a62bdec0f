/**
 * What each key of an identity assertion key file is: private or public (by what it holds, not
 * by where it stands), which algorithm it is a key for, and its kid (the RFC 7638 thumbprint).
 * The first private key signs; every other key, public or private, is published for
 * verification only (its public half). Every problem is a KeyFileError whose message names the
 * key by its index in the file and never quotes key material.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { GatewayConfig } from '../../config/schema.js';

export type AssertionAlgorithm = GatewayConfig['identity_assertion']['algorithm'];

export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly use: 'sig';
  readonly [member: string]: string;
}

/** A key file the gateway cannot use; the message is safe to print (no key material). */
export class KeyFileError extends Error {}

/** RFC 7638: the required members, in lexicographic order, without whitespace. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/** Members only a private (or symmetric) JWK has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const KEY_KINDS: Record<AssertionAlgorithm, string> = { ES256: 'an EC P-256 key', EdDSA: 'an Ed25519 key', RS256: 'an RSA key' };

export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (members === undefined) throw new KeyFileError(`unsupported key type ${jwk.kty ?? '(none)'}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function describe(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `${type.startsWith('d') ? 'a' : 'an'} ${type}${curve ? ` (${curve})` : ''} key`;
}

/** The algorithm this key is a key for, or why it is none this gateway signs or verifies with. */
export function algorithmOf(key: KeyObject): AssertionAlgorithm | { why: string } {
  const type = key.asymmetricKeyType;
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') {
    const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
    if (modulusLength < 2048) return { why: 'is an RSA key shorter than 2048 bits' };
    // With e = 1 a signature is the padded hash itself: anyone could sign. FIPS 186-5 (as
    // RFC 8017 verifiers assume) wants an odd e of at least 65537.
    if (publicExponent < 65537n || publicExponent % 2n === 0n)
      return { why: 'is an RSA key whose public exponent is not an odd number of at least 65537' };
    return 'RS256';
  }
  return { why: `is ${describe(key)}: not a key for ES256, EdDSA or RS256` };
}

/** Why this key cannot sign with `algorithm`, or undefined when it can. */
export function signingMismatch(key: KeyObject, algorithm: AssertionAlgorithm): string | undefined {
  const alg = algorithmOf(key);
  if (alg === algorithm) return undefined;
  if (typeof alg !== 'string' && algorithm === 'RS256' && key.asymmetricKeyType === 'rsa') return alg.why;
  return `is ${describe(key)}, ${algorithm} needs ${KEY_KINDS[algorithm]}`;
}

/** A public KeyObject's JWK as published: public members only, with its kid, alg and use. */
export function publicJwk(key: KeyObject, alg: AssertionAlgorithm): PublicJwk {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  const members: Record<string, string> = {};
  for (const m of THUMBPRINT_MEMBERS[jwk.kty!]!) members[m] = String(jwk[m]);
  return { ...members, kty: jwk.kty!, kid: jwkThumbprint(jwk), alg, use: 'sig' };
}

/** A key as read from the file, before it is checked. */
interface FileKey {
  key: KeyObject;
  /** The JWK it came from (its declared alg, use, key_ops), if it was one. */
  jwk?: JsonWebKey;
}

/** Node's reason, first line only and shortened: never the input it was given. */
const reason = (err: unknown) => (err as Error).message.split('\n')[0]!.slice(0, 120);

function parseJwkSet(text: string): FileKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the text around the error (key material): only where it is.
    const at = /at position (\d+)/.exec((err as Error).message);
    if (at === null) throw new KeyFileError('not valid JSON');
    const before = text.slice(0, Number(at[1])).split('\n');
    throw new KeyFileError(`not valid JSON (line ${before.length}, column ${before.at(-1)!.length + 1})`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  const list: unknown[] = Array.isArray(keys) ? keys : [doc];
  return list.map((jwk, i) => {
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new KeyFileError(`key ${i} is not a JWK`);
    const j = jwk as JsonWebKey;
    if (j.kty === 'oct') throw new KeyFileError(`key ${i} is a symmetric key`);
    const isPrivate = PRIVATE_MEMBERS.some((m) => m in j);
    try {
      return { key: isPrivate ? createPrivateKey({ key: j, format: 'jwk' }) : createPublicKey({ key: j, format: 'jwk' }), jwk: j };
    } catch (err) {
      throw new KeyFileError(`key ${i} is not a usable ${isPrivate ? 'private' : 'public'} JWK (${reason(err)})`);
    }
  });
}

/**
 * The PEM blocks: a BEGIN line whose next BEGIN or END line is its END. One pass over the BEGIN
 * and END lines (a lazy match from each BEGIN to its END would rescan the rest of the file for
 * every BEGIN left without one: quadratic).
 */
function pemBlocks(text: string): Array<[pem: string, label: string]> {
  const markers = [...text.matchAll(/-----(BEGIN|END) ([A-Z0-9 ]*)(-----)?/g)];
  const blocks: Array<[string, string]> = [];
  let unmatched = 0;
  for (let i = 0; i < markers.length; i++) {
    const [, kind, label, closed] = markers[i]!;
    if (kind !== 'BEGIN') continue;
    const end = markers[i + 1];
    if (label !== '' && closed !== undefined && end !== undefined && end[0] === `-----END ${label}-----`) {
      blocks.push([text.slice(markers[i]!.index, end.index + end[0].length), label!]);
      i++;
    } else unmatched++;
  }
  // A truncated block would otherwise vanish: a key the operator meant to publish, missing.
  if (unmatched > 0) throw new KeyFileError(`${unmatched} PEM block(s) without a matching END line`);
  return blocks;
}

function parsePem(text: string): FileKey[] {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new KeyFileError('no PEM block and not a JWK set');
  return blocks.map(([pem, label], i) => {
    // The label names the structure: a PRIVATE KEY block must parse as one (a public key
    // derived from a broken one would quietly stop it signing).
    const isPrivate = label!.endsWith('PRIVATE KEY');
    // Node would take a CERTIFICATE's public key too: a CA certificate pasted with the key
    // would publish, as a verification key, a key someone else holds.
    if (!isPrivate && !label!.endsWith('PUBLIC KEY'))
      throw new KeyFileError(`key ${i} (PEM ${label}) is not a key block: only PRIVATE KEY and PUBLIC KEY blocks are read`);
    try {
      return { key: isPrivate ? createPrivateKey(pem) : createPublicKey(pem) };
    } catch (err) {
      // OpenSSL only says "interrupted or cancelled" when it wanted a passphrase.
      if (/ENCRYPTED/.test(pem)) throw new KeyFileError(`key ${i} (PEM ${label}) is encrypted: the gateway reads no passphrase`);
      throw new KeyFileError(`key ${i} (PEM ${label}) is not a usable ${isPrivate ? 'private' : 'public'} key (${reason(err)})`);
    }
  });
}

/** A member's value as the message shows it: JSON (so on one line, control characters escaped), shortened. */
function shown(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}…` : json;
}

/** What a JWK says of itself must agree with what it is and what it is used for here. */
function declaredMismatch(jwk: JsonWebKey | undefined, alg: AssertionAlgorithm, signs: boolean): string | undefined {
  if (jwk === undefined) return undefined;
  if (jwk.alg !== undefined && jwk.alg !== alg) return `declares alg ${shown(jwk.alg)} but is ${KEY_KINDS[alg]} (${alg})`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return `declares use ${shown(jwk.use)}, not "sig"`;
  const ops = jwk.key_ops;
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes(signs ? 'sign' : 'verify')))
    return `declares key_ops ${shown(ops)} without "${signs ? 'sign' : 'verify'}"`;
  return undefined;
}

/**
 * The signing key (the file's first private key, which must suit `algorithm`) and the JWKS to
 * publish: the signing key first, then every other key's public half in file order, each with
 * the algorithm it is a key for.
 */
export function readKeyFile(text: string, algorithm: AssertionAlgorithm): { signingKey: KeyObject; published: PublicJwk[] } {
  const trimmed = text.trim();
  const keys = trimmed.startsWith('{') ? parseJwkSet(trimmed) : parsePem(trimmed);
  if (keys.length === 0) throw new KeyFileError('no keys');
  const signer = keys.findIndex((k) => k.key.type === 'private');
  if (signer === -1) throw new KeyFileError('no private key to sign with (the first private key signs; public keys are only published)');
  const kids = new Map<string, number>();
  const checked = keys.map(({ key, jwk }, i) => {
    const alg = algorithmOf(key);
    if (i === signer) {
      const why = signingMismatch(key, algorithm);
      if (why !== undefined) throw new KeyFileError(`key ${i} ${why} (identity_assertion.algorithm is ${algorithm})`);
    } else if (typeof alg !== 'string') throw new KeyFileError(`key ${i} ${alg.why}`);
    const a = alg as AssertionAlgorithm;
    const declared = declaredMismatch(jwk, a, i === signer);
    if (declared !== undefined) throw new KeyFileError(`key ${i} ${declared}`);
    const pub = publicJwk(key, a);
    const seen = kids.get(pub.kid);
    // The same key twice is a rotation gone wrong (the new key pasted where the old one belongs).
    if (seen !== undefined) throw new KeyFileError(`key ${i} is key ${seen} again (kid ${pub.kid}): list each key once`);
    kids.set(pub.kid, i);
    return pub;
  });
  return { signingKey: keys[signer]!.key, published: [checked[signer]!, ...checked.filter((_, i) => i !== signer)] };
}
