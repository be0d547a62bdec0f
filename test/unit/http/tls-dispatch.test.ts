/**
 * The TLS front: ALPN picks the server a connection is handed to, the handed socket is
 * encrypted, a new certificate reaches new connections only (with the same minimum version),
 * and a failed handshake never reaches the process.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, issueCertificate, type TestCertificate } from '../../helpers/certificates.js';
import { createTlsDispatcher, type TlsDispatchOptions } from '../../../src/http/tls-dispatch.js';

const dir = mkdtempSync(join(tmpdir(), 'kg-tls-dispatch-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ca = createTestCa(dir);
const first = issueCertificate(ca, dir, { name: 'first' });
const second = issueCertificate(ca, dir, { name: 'second' });
const pem = (c: TestCertificate) => ({ cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) });

function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  res.end(`${req.httpVersion} encrypted=${encrypted}`);
}

async function start(options: Partial<TlsDispatchOptions> & { withHttp2?: boolean } = {}) {
  const http1 = createServer(answer);
  const http2 = options.withHttp2 === false ? undefined : createH2Server(answer);
  const clientErrors: Error[] = [];
  const front = createTlsDispatcher({
    http1,
    http2,
    certificate: pem(first),
    minVersion: 'TLSv1.2',
    handshakeTimeoutMs: 30_000,
    onClientError: (err) => clientErrors.push(err),
    ...options,
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as AddressInfo).port;
  return {
    port,
    front,
    clientErrors,
    close: async () => {
      front.closeAllConnections();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
}

function tlsConnect(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 request on an open TLS socket; the response's body. */
function request1(socket: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text.slice(0, end));
      const body = text.slice(end + 4);
      if (end !== -1 && length !== null && Buffer.byteLength(body) >= Number(length[1])) {
        socket.off('data', onData);
        resolve(body);
      }
    };
    socket.on('data', onData);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

describe('TLS dispatch', () => {
  it('offers h2 and http/1.1 with an HTTP/2 server, and hands each socket to its server', async () => {
    const s = await start();
    try {
      const h2 = await tlsConnect(s.port, { ALPNProtocols: ['h2'] });
      assert.equal(h2.alpnProtocol, 'h2');
      h2.destroy();
      const h1 = await tlsConnect(s.port, { ALPNProtocols: ['http/1.1'] });
      assert.equal(h1.alpnProtocol, 'http/1.1');
      assert.equal(await request1(h1), '1.1 encrypted=true');
      h1.destroy();
      // No ALPN at all: HTTP/1.1.
      const none = await tlsConnect(s.port);
      assert.equal(none.alpnProtocol, false);
      assert.equal(await request1(none), '1.1 encrypted=true');
      none.destroy();
      const { connect: connectH2 } = await import('node:http2');
      const session = connectH2(`https://127.0.0.1:${s.port}`, { ca: ca.cert });
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/' });
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
        stream.end();
      });
      session.close();
      assert.equal(body, '2.0 encrypted=true');
    } finally {
      await s.close();
    }
  });

  it('offers only http/1.1 without an HTTP/2 server', async () => {
    const s = await start({ withHttp2: false });
    try {
      const h1 = await tlsConnect(s.port, { ALPNProtocols: ['h2', 'http/1.1'] });
      assert.equal(h1.alpnProtocol, 'http/1.1');
      assert.equal(await request1(h1), '1.1 encrypted=true');
      h1.destroy();
    } finally {
      await s.close();
    }
  });

  it('gives new connections a new certificate and keeps the minimum version', async () => {
    const s = await start({ minVersion: 'TLSv1.3' });
    try {
      const open = await tlsConnect(s.port);
      assert.equal(open.getPeerCertificate().fingerprint256, first.fingerprint256);
      s.front.setCertificate(pem(second));
      const fresh = await tlsConnect(s.port);
      assert.equal(fresh.getPeerCertificate().fingerprint256, second.fingerprint256);
      fresh.destroy();
      // The connection opened before goes on.
      assert.equal(await request1(open), '1.1 encrypted=true');
      open.destroy();
      await assert.rejects(tlsConnect(s.port, { maxVersion: 'TLSv1.2' }), /protocol version|alert/i);
    } finally {
      await s.close();
    }
  });

  it('survives handshakes that fail: plaintext, a reset, a client that distrusts it', async () => {
    const s = await start();
    try {
      await new Promise<void>((resolve) => {
        const raw = connectTcp(s.port, '127.0.0.1', () => raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        raw.on('error', () => {});
        raw.on('close', () => resolve());
      });
      await new Promise<void>((resolve) => {
        const raw = connectTcp(s.port, '127.0.0.1', () => raw.resetAndDestroy());
        raw.on('close', () => resolve());
      });
      await assert.rejects(tlsConnect(s.port, { ca: undefined }), /self[- ]signed|unable to verify|certificate/i);
      // Still serving.
      const ok = await tlsConnect(s.port);
      assert.equal(await request1(ok), '1.1 encrypted=true');
      ok.destroy();
      assert.ok(s.clientErrors.length >= 1, 'a failed handshake is reported');
    } finally {
      await s.close();
    }
  });
});
