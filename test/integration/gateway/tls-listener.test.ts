/**
 * TLS on the proxy listener, through a real gateway: HTTPS requests reach the upstream with
 * the identity injected and X-Forwarded-Proto https, the listener's URL says https, ALPN
 * offers what the gateway speaks, min_version holds, and the listener's timeouts hold over
 * TLS too (a stalled handshake, and headers that never end).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, issueCertificate, type TestCa, type TestCertificate } from '../../helpers/certificates.js';
import { startStack, type Stack } from '../../helpers/servers.js';

/** A generous bound for what a healthy gateway does at once (a loaded machine). */
const WAIT_MS = 30_000;

let dir: string;
let ca: TestCa;
let leaf: TestCertificate;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-tls-listener-'));
  ca = createTestCa(dir);
  leaf = issueCertificate(ca, dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tlsStack(proxy: Record<string, unknown> = {}): Promise<Stack> {
  return startStack(({ upstream }) => ({
    proxy: { tls: { cert_file: leaf.certFile, key_file: leaf.keyFile }, ...proxy },
    identity_headers: { 'X-User-Email': 'identity.traits.email' },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required', on_unauthenticated: 'json' }],
  }));
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: ca.cert, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function tlsConnect(url: string, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), ca: ca.cert, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what arrived once the peer closed the connection. */
function untilClosed(socket: {
  on(e: 'data', l: (d: Buffer) => void): unknown;
  on(e: 'close' | 'error', l: () => void): unknown;
}): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
}

describe('TLS on the proxy listener', () => {
  it('serves HTTPS: the identity reaches the upstream, with X-Forwarded-Proto https; the listener URL says https', async () => {
    const stack = await tlsStack();
    try {
      assert.match(stack.gw.proxyUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(
        stack.gw.logLines.find((l) => l.includes('kratos-gateway started'))!,
        /"proxy":"https:\/\/127\.0\.0\.1:\d+"/,
      );
      const s = stack.kratos.addSession({ traits: { email: 'ada@example.com' } });
      const res = await get(`${stack.gw.proxyUrl}/hello`, { 'x-session-token': s.token, 'x-forwarded-proto': 'http' });
      assert.equal(res.status, 200);
      const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
      assert.equal(seen.url, '/hello');
      assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
      assert.equal(seen.headers['x-user-email'], 'ada@example.com');
      // Seen by the gateway itself, not believed from the (untrusted) client.
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal((await get(`${stack.gw.proxyUrl}/hello`)).status, 401);
    } finally {
      await stack.close();
    }
  });

  it('offers h2 and http/1.1 over ALPN (http/1.1 only with proxy.http2 off), and serves a client that names no protocol', async () => {
    const h1only = await tlsStack({ http2: false });
    try {
      const socket = await tlsConnect(h1only.gw.proxyUrl, { ALPNProtocols: ['h2', 'http/1.1'] });
      assert.equal(socket.alpnProtocol, 'http/1.1');
      socket.destroy();
    } finally {
      await h1only.close();
    }
    const stack = await tlsStack();
    try {
      const socket = await tlsConnect(stack.gw.proxyUrl, { ALPNProtocols: ['h2', 'http/1.1'] });
      assert.equal(socket.alpnProtocol, 'h2');
      assert.equal(socket.getPeerCertificate().fingerprint256, leaf.fingerprint256);
      socket.destroy();
      const h1 = await tlsConnect(stack.gw.proxyUrl, { ALPNProtocols: ['http/1.1'] });
      assert.equal(h1.alpnProtocol, 'http/1.1');
      h1.destroy();
      const plain = await tlsConnect(stack.gw.proxyUrl);
      const closed = untilClosed(plain);
      plain.end('GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.match(await closed, /^HTTP\/1\.1 401 /);
    } finally {
      await stack.close();
    }
  });

  it('min_version TLSv1.3 refuses a client that speaks at most TLSv1.2, and serves TLSv1.3', async () => {
    const stack = await tlsStack({ tls: { cert_file: leaf.certFile, key_file: leaf.keyFile, min_version: 'TLSv1.3' } });
    try {
      await assert.rejects(tlsConnect(stack.gw.proxyUrl, { maxVersion: 'TLSv1.2' }), /protocol version|alert/i);
      const ok = await tlsConnect(stack.gw.proxyUrl);
      assert.equal(ok.getProtocol(), 'TLSv1.3');
      ok.destroy();
    } finally {
      await stack.close();
    }
  });

  it('a plaintext request to the TLS port is closed, and the gateway goes on', async () => {
    const stack = await tlsStack();
    try {
      const u = new URL(stack.gw.proxyUrl);
      const raw = connectTcp(Number(u.port), u.hostname, () => raw.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
      const text = await untilClosed(raw);
      assert.doesNotMatch(text, /^HTTP\/1\.1 200/);
      assert.equal((await get(`${stack.gw.proxyUrl}/x`)).status, 401);
    } finally {
      await stack.close();
    }
  });

  it('closes a handshake that stalls, and headers that never end, within the headers timeout', async () => {
    const stack = await tlsStack({ headers_timeout_ms: 1_000, request_timeout_ms: 2_000 });
    try {
      const u = new URL(stack.gw.proxyUrl);
      // TCP only: the handshake never starts.
      const stalled = connectTcp(Number(u.port), u.hostname);
      // Handshake done, then a request line and no end of headers.
      const slow = await tlsConnect(stack.gw.proxyUrl);
      slow.write('GET /x HTTP/1.1\r\nHost: a\r\n');
      const bound = setTimeout(() => {
        stalled.destroy(new Error('not closed'));
        slow.destroy(new Error('not closed'));
      }, WAIT_MS);
      const [stalledText, slowText] = await Promise.all([untilClosed(stalled), untilClosed(slow)]);
      clearTimeout(bound);
      assert.equal(stalled.errored, null, 'the gateway closed the stalled handshake');
      assert.equal(slow.errored, null, 'the gateway closed the slow request');
      assert.equal(stalledText, '');
      assert.match(slowText, /^HTTP\/1\.1 408 /);
    } finally {
      await stack.close();
    }
  });
});
