/**
 * A listener's certificate and private key (PEM files), read and checked the way a TLS server
 * would use them, so that a pair the server could not serve is refused before it is used, at
 * start (a configuration error) and on reload (the running pair is kept). Messages name the
 * file and why, never key material.
 */
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { BoundedReadError, readBoundedFile } from './bounded-file.js';

/** A certificate chain is a few kB: more is a wrong path. */
const MAX_PEM_BYTES = 1024 * 1024;

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Which of the two files a problem is with: the configuration key's last segment. */
export type TlsFileKey = 'cert_file' | 'key_file';

export class TlsPairError extends Error {
  constructor(
    readonly file: TlsFileKey,
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'TlsPairError';
  }
}

export interface TlsPairBytes {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TlsPair extends TlsPairBytes {
  /** The leaf certificate's SHA-256 fingerprint (colon-separated hex), what a client sees. */
  readonly fingerprint256: string;
  readonly subject: string;
  readonly validTo: string;
  /** A digest of both files' bytes: the same files give the same digest. */
  readonly digest: string;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----/;
// PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional (PKCS#1, SEC1) PEM with `Proc-Type: 4,ENCRYPTED`.
const ENCRYPTED = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/;

function readOne(file: TlsFileKey, path: string): Buffer {
  try {
    return readBoundedFile(path, MAX_PEM_BYTES, 'larger than 1 MiB: not a PEM file');
  } catch (err) {
    if (err instanceof BoundedReadError) throw new TlsPairError(file, path, err.message);
    throw err;
  }
}

/** Both files' bytes, as they are now. */
export function readTlsFiles(files: TlsFiles): TlsPairBytes {
  return { cert: readOne('cert_file', files.certFile), key: readOne('key_file', files.keyFile) };
}

export function digestOf(bytes: TlsPairBytes): string {
  const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return `${h(bytes.cert)}:${h(bytes.key)}`;
}

/** The leaf certificate (the file's first), or why there is none. */
function leafOf(files: TlsFiles, text: string): X509Certificate {
  const block = CERTIFICATE.exec(text);
  if (block === null) {
    if (PRIVATE_KEY.test(text))
      throw new TlsPairError('cert_file', files.certFile, 'holds a private key, not a certificate (are cert_file and key_file swapped?)');
    throw new TlsPairError('cert_file', files.certFile, 'no PEM certificate in it (a "-----BEGIN CERTIFICATE-----" block)');
  }
  try {
    return new X509Certificate(block[0]);
  } catch (err) {
    throw new TlsPairError('cert_file', files.certFile, `its first certificate cannot be read (${(err as Error).message})`);
  }
}

function privateKeyOf(files: TlsFiles, text: string): KeyObject {
  if (ENCRYPTED.test(text))
    throw new TlsPairError(
      'key_file',
      files.keyFile,
      'the private key is encrypted and the gateway reads no passphrase (store it decrypted: openssl pkey -in <encrypted> -out <plain>)',
    );
  if (!PRIVATE_KEY.test(text)) {
    if (CERTIFICATE.test(text))
      throw new TlsPairError('key_file', files.keyFile, 'holds a certificate, not a private key (are cert_file and key_file swapped?)');
    throw new TlsPairError('key_file', files.keyFile, 'no PEM private key in it (a "-----BEGIN PRIVATE KEY-----" block)');
  }
  try {
    return createPrivateKey(text);
  } catch (err) {
    // OpenSSL's reason (a decoder error), never the key's bytes.
    throw new TlsPairError('key_file', files.keyFile, `the private key cannot be read (${(err as Error).message})`);
  }
}

/** Checks a pair: a certificate, a private key, the key the certificate is for, and a TLS context that accepts both. */
export function checkTlsPair(files: TlsFiles, bytes: TlsPairBytes): TlsPair {
  const leaf = leafOf(files, bytes.cert.toString('utf8'));
  const key = privateKeyOf(files, bytes.key.toString('utf8'));
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(leaf.publicKey)))
    throw new TlsPairError('key_file', files.keyFile, `does not match the certificate in ${files.certFile} (its public key is another)`);
  try {
    createSecureContext({ cert: bytes.cert, key: bytes.key });
  } catch (err) {
    // The leaf and key are fine, so what TLS refuses is in the rest of the chain.
    throw new TlsPairError('cert_file', files.certFile, `refused as a TLS certificate chain (${(err as Error).message})`);
  }
  return {
    ...bytes,
    fingerprint256: leaf.fingerprint256,
    subject: leaf.subject.replace(/\n/g, ', '),
    validTo: leaf.validTo,
    digest: digestOf(bytes),
  };
}

/** Reads and checks both files; throws TlsPairError. */
export function readTlsPair(files: TlsFiles): TlsPair {
  return checkTlsPair(files, readTlsFiles(files));
}
