/**
 * Throwaway TLS material made with openssl at test time: a private CA, and a server certificate
 * it signed for 127.0.0.1 (an IP SAN, which Node checks IP hosts against).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

export interface TestCertificates {
  certFile: string;
  keyFile: string;
  /** The CA that signed certFile. */
  caFile: string;
}

/** Writes ca.crt, server.crt and server.key (and openssl's working files) into `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kratos-gateway test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    ...['-keyout', f('ca.key'), '-out', f('ca.crt')],
  ]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run([
    ...['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial'],
    ...['-days', '1', '-extfile', f('server.ext'), '-out', f('server.crt')],
  ]);
  return { certFile: f('server.crt'), keyFile: f('server.key'), caFile: f('ca.crt') };
}
