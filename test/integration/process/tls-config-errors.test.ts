/**
 * A bad proxy.tls pair is a configuration error, through the CLI as an operator meets it:
 * `validate` and a start both exit 2 with one `config error:` line naming the key (and the
 * variable that set it), the file and what is wrong; never a stack or key material. Relative
 * paths resolve against the configuration file's directory; a good pair starts an https listener.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createTestCa, issueCertificate, OPENSSL } from '../../helpers/certificates.js';
import { bothRefuse, runCli, spawnGateway } from '../../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'kgw-tls-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ca = createTestCa(dir);
const a = issueCertificate(ca, dir, { name: 'a' });
const b = issueCertificate(ca, dir, { name: 'b' });
execFileSync(OPENSSL, ['pkey', '-in', a.keyFile, '-aes256', '-passout', 'pass:pw', '-out', join(dir, 'encrypted.key')]);
writeFileSync(join(dir, 'junk.crt'), 'not a certificate\n');
/** Key bytes: none may appear in any output. */
const secrets = [a.key.split('\n')[1]!, b.key.split('\n')[1]!];

function configFile(name: string, tls: Record<string, unknown>): string {
  const file = join(dir, `${name}.gateway.yaml`);
  writeFileSync(file, stringify({ proxy: { listen: { port: 0 }, tls }, admin: { listen: { port: 0 } }, ui: { enabled: false } }));
  return file;
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const refuse = (file: string, expected: RegExp, env: Record<string, string> = {}) => bothRefuse(file, expected, env, secrets);

describe('a bad proxy.tls: validate and start exit 2 with a config error', () => {
  test('a missing certificate file, relative to the configuration file', async () => {
    const file = configFile('missing', { cert_file: 'absent.crt', key_file: 'a.key' });
    await refuse(
      file,
      new RegExp(`^config error: proxy\\.tls\\.cert_file: ${escaped(join(dir, 'absent.crt'))}: cannot read \\(ENOENT\\)$`),
    );
  });

  test('a key that does not match the certificate', async () => {
    const file = configFile('mismatch', { cert_file: 'a.crt', key_file: 'b.key' });
    await refuse(
      file,
      new RegExp(
        `^config error: proxy\\.tls\\.key_file: ${escaped(b.keyFile)}: does not match the certificate in ${escaped(a.certFile)} \\(its public key is another\\)$`,
      ),
    );
  });

  test('an encrypted key', async () => {
    const file = configFile('encrypted', { cert_file: 'a.crt', key_file: 'encrypted.key' });
    await refuse(
      file,
      /^config error: proxy\.tls\.key_file: .*encrypted\.key: the private key is encrypted and the gateway reads no passphrase/,
    );
  });

  test('a certificate file that is not PEM', async () => {
    const file = configFile('junk', { cert_file: 'junk.crt', key_file: 'a.key' });
    await refuse(file, /^config error: proxy\.tls\.cert_file: .*junk\.crt: no PEM certificate in it/);
  });

  test('a key file that is a named pipe nobody writes: refused at once, not waited on', async () => {
    // Opening a FIFO for reading blocks until a writer comes: a blocking open would hang
    // validate and a start (and, on a reload, every connection of a running gateway).
    execFileSync('mkfifo', [join(dir, 'pipe.key')]);
    const file = configFile('pipe', { cert_file: 'a.crt', key_file: 'pipe.key' });
    await refuse(file, /^config error: proxy\.tls\.key_file: .*pipe\.key: a named pipe, not a file$/);
  });

  test('a certificate without its key, and a minimum version that does not exist', async () => {
    await refuse(
      configFile('half', { cert_file: 'a.crt' }),
      /^config error: proxy\.tls\.key_file: required when proxy\.tls\.cert_file is set$/,
    );
    await refuse(
      configFile('version', { cert_file: 'a.crt', key_file: 'a.key', min_version: 'TLSv1.1' }),
      /^config error: proxy\.tls\.min_version: must be TLSv1\.2 or TLSv1\.3$/,
    );
  });

  test('set through the environment: the line names the variable', async () => {
    const file = configFile('env', { cert_file: 'a.crt', key_file: 'a.key' });
    await refuse(
      file,
      new RegExp(
        `^config error: KRATOS_GATEWAY_PROXY__TLS__KEY_FILE \\(proxy\\.tls\\.key_file\\): ${escaped(b.keyFile)}: does not match the certificate`,
      ),
      { KRATOS_GATEWAY_PROXY__TLS__KEY_FILE: 'b.key' },
    );
  });
});

test('a good pair: validate says OK, and the started gateway prints and logs an https proxy URL', async () => {
  const file = configFile('good', { cert_file: 'a.crt', key_file: 'a.key' });
  const validated = await runCli(['validate', '--config', file]);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stdout, /^configuration OK: /);
  const gw = spawnGateway(['--config', file]);
  try {
    const out = await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
    assert.match(out, /"proxy":"https:\/\/127\.0\.0\.1:\d+"/);
    await gw.waitFor('stderr', (t) => /Proxy\s+https:\/\/127\.0\.0\.1:\d+/.test(t), 10_000);
  } finally {
    await gw.stop();
  }
});
