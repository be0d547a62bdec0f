/**
 * Certificates made at test time with the openssl CLI: a throwaway CA and server certificates
 * it signs (for 127.0.0.1 and localhost by default: Node checks an IP host against IP SANs),
 * each in its own files, for any test that runs a TLS server (the proxy listener, Redis, an
 * HTTP/2 upstream). Nothing here is a secret; the files live in a directory the caller removes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM, for a client's `ca`. */
  readonly cert: string;
}

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that signed it. */
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
  /** What `TLSSocket.getPeerCertificate().fingerprint256` reports for it. */
  readonly fingerprint256: string;
}

export type KeyType = 'ec' | 'rsa';

function run(args: string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(type: KeyType): string[] {
  return type === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
}

export function createTestCa(dir: string, name = 'ca', keyType: KeyType = 'ec'): TestCa {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  run([
    ...['req', '-x509', ...newKey(keyType), '-nodes', '-days', '2', '-subj', `/CN=kratos-gateway test CA ${name}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    ...['-keyout', keyFile, '-out', certFile],
  ]);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}

export interface IssueOptions {
  /** Base name of the files in `dir` (default "server"). */
  readonly name?: string;
  /** Subject alternative names: IP literals become IP SANs, anything else DNS SANs. */
  readonly hosts?: readonly string[];
  readonly keyType?: KeyType;
}

/** A server certificate for `hosts`, signed by `ca`. */
export function issueCertificate(ca: TestCa, dir: string, options: IssueOptions = {}): TestCertificate {
  const name = options.name ?? 'server';
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  run(['req', ...newKey(options.keyType ?? 'ec'), '-nodes', '-subj', `/CN=${hosts[0] ?? name}`, '-keyout', f('key'), '-out', f('csr')]);
  const sans = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(f('ext'), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  run([
    ...['x509', '-req', '-in', f('csr'), '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial'],
    ...['-days', '2', '-extfile', f('ext'), '-out', f('crt')],
  ]);
  const cert = readFileSync(f('crt'), 'utf8');
  return {
    certFile: f('crt'),
    keyFile: f('key'),
    caFile: ca.certFile,
    cert,
    key: readFileSync(f('key'), 'utf8'),
    fingerprint256: new X509Certificate(cert).fingerprint256,
  };
}
