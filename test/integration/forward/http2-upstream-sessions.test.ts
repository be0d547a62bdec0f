/**
 * The HTTP/2 upstream session pool (src/gateway/forward/http2-session-pool.ts) under the
 * forwarder: sessions replaced after GOAWAY or death without failing calls, streams the
 * upstream refused sent again (and only those: RFC 9113 §8.7), the peer's stream limit
 * respected with more sessions up to the bound, and h2 over TLS with certificate verification.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { REPLAY_LIMIT } from '../../../src/gateway/forward/http2-exchange.js';
import {
  echoClient,
  grpc,
  grpcFrame,
  startEchoServer,
  startForwarding,
  startH2Upstream,
  unary,
  unaryError,
  waitFor,
  type SeenStream,
} from '../../helpers/grpc.js';
import { createTestCa, issueCertificate, type TestCertificate } from '../../helpers/certificates.js';

/** A server certificate for 127.0.0.1 from a CA of its own, both in `dir`. */
const certificateIn = (dir: string): TestCertificate => issueCertificate(createTestCa(dir), dir, { hosts: ['127.0.0.1'] });

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/** A plain (not gRPC) HTTP/2 request on `session`: status and body. */
async function h2Request(session: http2.ClientHttp2Session, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
  const stream = session.request({ ':method': body ? 'POST' : 'GET', ':path': path }, { endStream: body === undefined });
  if (body) stream.end(body);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  await new Promise((resolve) => stream.on('close', resolve));
  return { status: Number(headers[':status']), body: Buffer.concat(chunks).toString() };
}

/** Once the request is complete: 200 with the path and the request body's length. */
function answer(stream: http2.ServerHttp2Stream, seen: SeenStream): void {
  const respond = () => {
    if (stream.closed || stream.destroyed) return;
    stream.respond({ ':status': 200 });
    stream.end(`${seen.headers[':path']} ${Buffer.concat(seen.body).length}`);
  };
  if (stream.readableEnded) respond();
  else stream.once('end', respond);
}

describe('sessions that go away', () => {
  test('GOAWAY from a grpc-js server (max connection age) under steady traffic: no call fails, new sessions take over', async () => {
    const upstream = await startEchoServer({ 'grpc.max_connection_age_ms': 150, 'grpc.max_connection_age_grace_ms': 30_000 });
    const { front, close } = await startForwarding(`http://${upstream.address}`, 'h2c');
    const client = echoClient(front.address);
    try {
      const failures: unknown[] = [];
      let calls = 0;
      // Ten calls in flight at any time, until the upstream has been reached over four connections.
      const worker = async () => {
        while (new Set(upstream.state.peers).size < 4 && calls < 20_000) {
          calls++;
          await unary(client, { text: `n${calls}` }).catch((e: unknown) => failures.push(e));
        }
      };
      await Promise.all(Array.from({ length: 10 }, worker));
      assert.deepEqual(failures, []);
      assert.ok(new Set(upstream.state.peers).size >= 4, `${calls} calls reached ${new Set(upstream.state.peers).size} connections`);
    } finally {
      client.close();
      await close();
      await upstream.close();
    }
  });

  test('a session that dies between requests (the upstream drops the connection): the next request opens a new one', async () => {
    const upstream = await startH2Upstream((stream, seen) => answer(stream, seen));
    const { forwarder, front, close } = await startForwarding(upstream.url, 'h2c');
    const session = http2.connect(front.url);
    try {
      assert.deepEqual(await h2Request(session, '/one'), { status: 200, body: '/one 0' });
      upstream.sessions[0]!.destroy();
      await waitFor(() => forwarder.pool(new URL(upstream.url)).size === 0, 'the pool to let the dead session go');
      assert.deepEqual(await h2Request(session, '/two'), { status: 200, body: '/two 0' });
      assert.deepEqual(
        upstream.seen.map((s) => s.session),
        [0, 1],
      );
    } finally {
      session.close();
      await close();
      await upstream.close();
    }
  });
});

describe('streams the upstream never processed are sent again, and only those', () => {
  test('RST_STREAM REFUSED_STREAM: the request, body included, is sent again; the client sees only the answer', async () => {
    const upstream = await startH2Upstream((stream, seen, index) => {
      if (index === 0) stream.close(NGHTTP2_REFUSED_STREAM);
      else answer(stream, seen);
    });
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    const session = http2.connect(front.url);
    try {
      assert.deepEqual(await h2Request(session, '/upload', Buffer.alloc(1000, 1)), { status: 200, body: '/upload 1000' });
      assert.equal(upstream.seen.length, 2);
      assert.equal(front.results[0]!.status, 200);
    } finally {
      session.close();
      await close();
      await upstream.close();
    }
  });

  test('GOAWAY naming an earlier last stream: the later stream is sent again on a new session', async () => {
    const upstream = await startH2Upstream((stream, seen, index) => {
      // The second stream of the first session arrives after a graceful shutdown that processed only the first.
      if (index === 1) return stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
      answer(stream, seen);
    });
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    const session = http2.connect(front.url);
    try {
      assert.deepEqual(await h2Request(session, '/first'), { status: 200, body: '/first 0' });
      assert.deepEqual(await h2Request(session, '/second'), { status: 200, body: '/second 0' });
      assert.deepEqual(
        upstream.seen.map((s) => [s.headers[':path'], s.session]),
        [
          ['/first', 0],
          ['/second', 0],
          ['/second', 1],
        ],
      );
    } finally {
      session.close();
      await close();
      await upstream.close();
    }
  });

  test('a stream the upstream may have processed (its session died after receiving it) is not sent again: UNAVAILABLE', async () => {
    const upstream = await startH2Upstream((stream) => stream.session!.destroy());
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    const client = echoClient(front.address);
    try {
      const err = await unaryError(client, { text: 'once' });
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.equal(upstream.seen.length, 1);
    } finally {
      client.close();
      await close();
      await upstream.close();
    }
  });

  test(`a body larger than what is kept for a retry (${REPLAY_LIMIT} bytes), refused after it was read: not sent again`, async () => {
    const upstream = await startH2Upstream((stream) => {
      let read = 0;
      stream.on('data', (c: Buffer) => {
        read += c.length;
        if (read > REPLAY_LIMIT && !stream.closed) stream.close(NGHTTP2_REFUSED_STREAM);
      });
    });
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    const session = http2.connect(front.url);
    try {
      const r = await h2Request(session, '/big', Buffer.alloc(4 * REPLAY_LIMIT, 2));
      assert.equal(r.status, 502);
      assert.equal(upstream.seen.length, 1);
      assert.equal(front.results[0]!.failure?.kind, 'reset');
    } finally {
      session.close();
      await close();
      await upstream.close();
    }
  });
});

test("the peer's stream limit: more sessions up to the bound, never more streams on one than it allows", async () => {
  const PER_SESSION = 5;
  const SESSIONS = 3;
  const held: Array<() => void> = [];
  const perSession = new Map<number, number>();
  let maxPerSession = 0;
  const upstream = await startH2Upstream(
    (stream, seen) => {
      const n = (perSession.get(seen.session) ?? 0) + 1;
      perSession.set(seen.session, n);
      maxPerSession = Math.max(maxPerSession, n);
      held.push(() => {
        perSession.set(seen.session, perSession.get(seen.session)! - 1);
        answer(stream, seen);
      });
      // Answered only once the pool has filled every session it may open.
      if (held.length === PER_SESSION * SESSIONS) for (const release of held.splice(0)) release();
    },
    { maxConcurrentStreams: PER_SESSION },
  );
  const { front, close } = await startForwarding(upstream.url, 'h2c', SESSIONS);
  const session = http2.connect(front.url);
  try {
    const replies = await Promise.all(Array.from({ length: 2 * PER_SESSION * SESSIONS }, (_, i) => h2Request(session, `/r${i}`)));
    assert.ok(replies.every((r) => r.status === 200));
    assert.equal(upstream.sessions.length, SESSIONS);
    assert.equal(maxPerSession, PER_SESSION);
  } finally {
    session.close();
    await close();
    await upstream.close();
  }
});

describe('h2: TLS with ALPN and certificate verification', () => {
  let dir: string;
  let trusted: TestCertificate;
  let untrusted: TestCertificate;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kg-h2-tls-'));
    trusted = certificateIn(mkdtempSync(join(dir, 'trusted-')));
    untrusted = certificateIn(mkdtempSync(join(dir, 'untrusted-')));
    // What NODE_EXTRA_CA_CERTS does for a gateway process: this CA joins Node's default store.
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), readFileSync(trusted.caFile, 'utf8')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const serverCredentials = (files: TestCertificate) =>
    grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(files.keyFile), cert_chain: readFileSync(files.certFile) }], false);

  test('a grpc-js server over TLS whose certificate a trusted CA signed: the call succeeds', async () => {
    const upstream = await startEchoServer({}, serverCredentials(trusted));
    const { front, close } = await startForwarding(`https://${upstream.address}`, 'h2');
    const client = echoClient(front.address);
    try {
      assert.equal((await unary(client, { text: 'over tls' })).text, 'echo: over tls');
    } finally {
      client.close();
      await close();
      await upstream.close();
    }
  });

  test('a certificate no trusted CA signed: refused, UNAVAILABLE, nothing sent', async () => {
    const upstream = await startEchoServer({}, serverCredentials(untrusted));
    const { front, close } = await startForwarding(`https://${upstream.address}`, 'h2');
    const client = echoClient(front.address);
    try {
      const err = await unaryError(client, { text: 'x' });
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.equal(front.results[0]!.failure?.kind, 'connect');
      assert.deepEqual(upstream.state.peers, []);
    } finally {
      client.close();
      await close();
      await upstream.close();
    }
  });

  test('a TLS upstream that speaks only HTTP/1.1 (no ALPN h2): refused, not spoken to in HTTP/2', async () => {
    const https = createHttpsServer(
      { key: readFileSync(trusted.keyFile), cert: readFileSync(trusted.certFile), ALPNProtocols: ['http/1.1'] },
      (_req, res) => res.end('http/1.1'),
    );
    let requests = 0;
    https.on('request', () => requests++);
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const { front, close } = await startForwarding(`https://127.0.0.1:${(https.address() as AddressInfo).port}`, 'h2');
    const session = http2.connect(front.url);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/x', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end(grpcFrame('x'));
      const headers = await new Promise<IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      assert.equal(headers['grpc-status'], '14');
      assert.equal(requests, 0);
    } finally {
      session.close();
      await close();
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
    }
  });
});
