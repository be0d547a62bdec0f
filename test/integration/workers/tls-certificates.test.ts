/**
 * proxy.workers: 2 with TLS: each worker serves the proxy listener's certificate and reads it
 * again on its own, on SIGHUP to the primary (which tells every worker) and on a change of the
 * files (each worker watches them): afterwards every new connection, whichever worker takes it,
 * gets the new certificate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createTestCa, issueCertificate, type TestCa, type TestCertificate } from '../../helpers/certificates.js';
import { spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { freePort } from '../../helpers/servers.js';
import { logLines } from './helpers.js';

/** New connections per check: the primary hands them to the workers in turn, so each worker gets several. */
const N = 6;
let dir: string;
let ca: TestCa;
let certs: TestCertificate[];
let port: number;
let gw: GatewayProcess;

function served(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function servedByAll(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < N; i++) out.push(await served());
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kgw-workers-tls-'));
  ca = createTestCa(dir);
  certs = ['one', 'two', 'three'].map((name) => issueCertificate(ca, dir, { name }));
  // The configured names are symlinks into `store`: a change there is seen only on SIGHUP.
  mkdirSync(join(dir, 'store'));
  mkdirSync(join(dir, 'certs'));
  writeFileSync(join(dir, 'store', 'tls.crt'), certs[0]!.cert);
  writeFileSync(join(dir, 'store', 'tls.key'), certs[0]!.key);
  symlinkSync(join(dir, 'store', 'tls.crt'), join(dir, 'certs', 'tls.crt'));
  symlinkSync(join(dir, 'store', 'tls.key'), join(dir, 'certs', 'tls.key'));
  port = await freePort();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { port }, workers: 2, tls: { cert_file: 'certs/tls.crt', key_file: 'certs/tls.key' } },
      admin: { listen: { port: await freePort() } },
      ui: { enabled: false },
      kratos: { public_url: 'http://127.0.0.1:9' },
    }),
  );
  gw = spawnGateway(['--config', file]);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every worker serves TLS, and the primary says https', async () => {
  assert.match(logLines(gw.stdout(), 'kratos-gateway started')[0]!.proxy as string, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(await servedByAll(), Array(N).fill(certs[0]!.fingerprint256));
});

test('SIGHUP to the primary: every worker reads the files again', async () => {
  writeFileSync(join(dir, 'store', 'tls.crt'), certs[1]!.cert);
  writeFileSync(join(dir, 'store', 'tls.key'), certs[1]!.key);
  gw.child.kill('SIGHUP');
  await gw.waitFor('stdout', (t) => logLines(t, 'proxy TLS certificate reloaded').length === 2, 30_000);
  const reloaded = logLines(gw.stdout(), 'proxy TLS certificate reloaded');
  assert.deepEqual(new Set(reloaded.map((l) => l.worker)).size, 2, 'one line from each worker');
  assert.ok(reloaded.every((l) => l.trigger === 'SIGHUP (primary)' && l.fingerprint256 === certs[1]!.fingerprint256));
  assert.deepEqual(await servedByAll(), Array(N).fill(certs[1]!.fingerprint256));
});

test('a change of the files: every worker sees it', async () => {
  // Replaced the way `mv` does: written beside, renamed over the configured names.
  for (const [name, text] of [
    ['tls.crt', certs[2]!.cert],
    ['tls.key', certs[2]!.key],
  ] as const) {
    writeFileSync(join(dir, 'certs', name + '.new'), text);
    renameSync(join(dir, 'certs', name + '.new'), join(dir, 'certs', name));
  }
  await gw.waitFor('stdout', (t) => logLines(t, 'proxy TLS certificate reloaded').length === 4, 30_000);
  assert.deepEqual(await servedByAll(), Array(N).fill(certs[2]!.fingerprint256));
});
