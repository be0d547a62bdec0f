/**
 * The proxy listener's certificate is read again when its files change, whether overwritten in
 * place or swapped the way a Kubernetes Secret volume swaps them (a new `..data` symlink renamed
 * into place): new connections get the new certificate, an open keep-alive connection goes on,
 * and a broken new pair keeps the running one, logged once by key path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCa, issueCertificate, type TestCa, type TestCertificate } from '../../helpers/certificates.js';
import { startStack, type Stack } from '../../helpers/servers.js';

/** A generous bound for a change to be seen (a loaded machine); polled, never asserted as a duration. */
const WAIT_MS = 30_000;

let dir: string;
let ca: TestCa;
let one: TestCertificate;
let two: TestCertificate;
let three: TestCertificate;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-tls-rotation-'));
  ca = createTestCa(dir);
  one = issueCertificate(ca, dir, { name: 'one' });
  two = issueCertificate(ca, dir, { name: 'two' });
  three = issueCertificate(ca, dir, { name: 'three', keyType: 'rsa' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tlsStack(certFile: string, keyFile: string): Promise<Stack> {
  return startStack(({ upstream }) => ({
    proxy: { tls: { cert_file: certFile, key_file: keyFile } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream, auth: 'anonymous' }],
  }));
}

function tlsConnect(url: string): Promise<TLSSocket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), ca: ca.cert }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The certificate a new connection is given. */
async function served(url: string): Promise<string> {
  const socket = await tlsConnect(url);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** Polls new connections until they are given `fingerprint`. */
async function untilServed(url: string, fingerprint: string): Promise<void> {
  let last = '';
  for (const until = Date.now() + WAIT_MS; Date.now() < until; await sleep(50)) {
    last = await served(url);
    if (last === fingerprint) return;
  }
  assert.equal(last, fingerprint, 'new connections get the new certificate');
}

async function untilLogged(lines: string[], predicate: (line: string) => boolean): Promise<string> {
  for (const until = Date.now() + WAIT_MS; Date.now() < until; await sleep(50)) {
    const line = lines.find(predicate);
    if (line !== undefined) return line;
  }
  assert.fail(`no such log line within ${WAIT_MS} ms:\n${lines.join('\n')}`);
}

/** One HTTP/1.1 keep-alive request on an open TLS connection; the status line. */
function requestOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /content-length: (\d+)/i.exec(text.slice(0, end));
      const body = text.slice(end + 4);
      // The echo upstream's answer comes chunked; a chunked body ends with the empty last chunk.
      if (length === null ? body.endsWith('0\r\n\r\n') : Buffer.byteLength(body) >= Number(length[1])) {
        socket.off('data', onData);
        resolve(text.split('\r\n')[0]!);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before the response to ${path}`)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
  });
}

/** Writes a certificate's pair over the files at `certFile` and `keyFile`, in place. */
function overwrite(c: TestCertificate, certFile: string, keyFile: string): void {
  writeFileSync(certFile, c.cert);
  writeFileSync(keyFile, c.key);
}

/** A gateway serving `one` from tls.crt and tls.key in a new directory `name`. */
async function stackWithFilesIn(name: string): Promise<{ stack: Stack; certFile: string; keyFile: string }> {
  const certs = join(dir, name);
  mkdirSync(certs);
  const [certFile, keyFile] = [join(certs, 'tls.crt'), join(certs, 'tls.key')];
  overwrite(one, certFile, keyFile);
  return { stack: await tlsStack(certFile, keyFile), certFile, keyFile };
}

describe('proxy TLS certificate rotation', () => {
  it('files overwritten in place: new connections get the new certificate, an open one goes on', async () => {
    const { stack, certFile, keyFile } = await stackWithFilesIn('plain');
    try {
      const url = stack.gw.proxyUrl;
      assert.equal(await served(url), one.fingerprint256);
      const open = await tlsConnect(url);
      assert.match(await requestOn(open, '/before'), /^HTTP\/1\.1 200 /);

      overwrite(two, certFile, keyFile);
      await untilServed(url, two.fingerprint256);
      const line = await untilLogged(stack.gw.logLines, (l) => l.includes('proxy TLS certificate reloaded'));
      assert.equal(JSON.parse(line).fingerprint256, two.fingerprint256);
      assert.ok(!stack.gw.logLines.some((l) => l.includes('PRIVATE KEY') || l.includes(two.key.split('\n')[1]!)), 'no key material logged');

      // The connection opened before the change keeps its certificate and is still served.
      assert.equal(open.getPeerCertificate().fingerprint256, one.fingerprint256);
      assert.match(await requestOn(open, '/after'), /^HTTP\/1\.1 200 /);
      open.destroy();
      assert.deepEqual(
        stack.upstream.received.map((r) => r.url),
        ['/before', '/after'],
      );
    } finally {
      await stack.close();
    }
  });

  it('a Kubernetes-style ..data symlink swap: new connections get the new certificate', async () => {
    // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
    const certs = join(dir, 'secret');
    const version = (name: string, c: TestCertificate) => {
      mkdirSync(join(certs, name));
      writeFileSync(join(certs, name, 'tls.crt'), c.cert);
      writeFileSync(join(certs, name, 'tls.key'), c.key);
    };
    mkdirSync(certs);
    version('..v1', one);
    symlinkSync('..v1', join(certs, '..data'));
    symlinkSync('..data/tls.crt', join(certs, 'tls.crt'));
    symlinkSync('..data/tls.key', join(certs, 'tls.key'));
    const stack = await tlsStack(join(certs, 'tls.crt'), join(certs, 'tls.key'));
    try {
      const url = stack.gw.proxyUrl;
      assert.equal(await served(url), one.fingerprint256);
      const open = await tlsConnect(url);
      assert.match(await requestOn(open, '/before'), /^HTTP\/1\.1 200 /);

      // The atomic writer's update: a new directory, a new symlink renamed over ..data, the old directory removed.
      version('..v2', two);
      symlinkSync('..v2', join(certs, '..data_tmp'));
      renameSync(join(certs, '..data_tmp'), join(certs, '..data'));
      rmSync(join(certs, '..v1'), { recursive: true });
      await untilServed(url, two.fingerprint256);
      assert.match(await requestOn(open, '/after'), /^HTTP\/1\.1 200 /);
      open.destroy();
    } finally {
      await stack.close();
    }
  });

  it('a directory symlink swapped, then the directory removed and made again: each change is seen', async () => {
    // cert_file is current/tls.crt with current -> v1: a deployment swaps `current` (ln -sfn),
    // which changes nothing inside the directory the files were first found in.
    const base = join(dir, 'swapped');
    const version = (name: string, c: TestCertificate) => {
      mkdirSync(join(base, name));
      overwrite(c, join(base, name, 'tls.crt'), join(base, name, 'tls.key'));
    };
    mkdirSync(base);
    version('v1', one);
    symlinkSync('v1', join(base, 'current'));
    const [certFile, keyFile] = [join(base, 'current', 'tls.crt'), join(base, 'current', 'tls.key')];
    const stack = await tlsStack(certFile, keyFile);
    try {
      const url = stack.gw.proxyUrl;
      assert.equal(await served(url), one.fingerprint256);

      version('v2', two);
      symlinkSync('v2', join(base, 'current.tmp'));
      renameSync(join(base, 'current.tmp'), join(base, 'current'));
      await untilServed(url, two.fingerprint256);

      // Now the files live in v2: a change there is seen too.
      overwrite(three, certFile, keyFile);
      await untilServed(url, three.fingerprint256);

      // The directory removed and made again with new files.
      rmSync(join(base, 'v2'), { recursive: true });
      version('v2', one);
      await untilServed(url, one.fingerprint256);
    } finally {
      await stack.close();
    }
  });

  it('a broken new pair keeps the running certificate, logged once by key path; the next good pair applies', async () => {
    const { stack, certFile, keyFile } = await stackWithFilesIn('broken');
    try {
      const url = stack.gw.proxyUrl;
      // A key that is not the certificate's.
      copyFileSync(three.keyFile, keyFile);
      const rejected = (l: string) => l.includes('proxy TLS certificate not reloaded');
      const line = JSON.parse(await untilLogged(stack.gw.logLines, rejected)) as { level: number; error: string; msg: string };
      assert.equal(line.error, `proxy.tls.key_file: ${keyFile}: does not match the certificate in ${certFile} (its public key is another)`);
      assert.equal(line.level, 50);
      assert.equal(await served(url), one.fingerprint256, 'the running certificate is kept');

      overwrite(two, certFile, keyFile);
      await untilServed(url, two.fingerprint256);
      await untilLogged(stack.gw.logLines, (l) => l.includes('proxy TLS certificate reloaded'));
      assert.equal(stack.gw.logLines.filter(rejected).length, 1, 'one change, one error line');
      assert.ok(!stack.gw.logLines.some((l) => l.includes(three.key.split('\n')[1]!)), 'no key material logged');
    } finally {
      await stack.close();
    }
  });

  it('reload() (what SIGHUP calls) reads the files again, also when no watcher saw a change', async () => {
    // The files are symlinks into another directory, whose changes the watcher of this one never sees.
    const store = join(dir, 'store');
    const certs = join(dir, 'linked');
    mkdirSync(store);
    mkdirSync(certs);
    overwrite(one, join(store, 'a.crt'), join(store, 'a.key'));
    symlinkSync(join(store, 'a.crt'), join(certs, 'tls.crt'));
    symlinkSync(join(store, 'a.key'), join(certs, 'tls.key'));
    const stack = await tlsStack(join(certs, 'tls.crt'), join(certs, 'tls.key'));
    try {
      const url = stack.gw.proxyUrl;
      overwrite(two, join(store, 'a.crt'), join(store, 'a.key'));
      stack.gw.reload('SIGHUP');
      assert.equal(await served(url), two.fingerprint256);
      const line = JSON.parse(stack.gw.logLines.find((l) => l.includes('proxy TLS certificate reloaded'))!) as Record<string, string>;
      assert.equal(line.trigger, 'SIGHUP');
      stack.gw.reload('SIGHUP');
      assert.ok(stack.gw.logLines.some((l) => l.includes('proxy TLS certificate unchanged')));
    } finally {
      await stack.close();
    }
  });
});
