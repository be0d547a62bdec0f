/**
 * gRPC end to end through the gateway: a @grpc/grpc-js client → the proxy port (h2c) → the one
 * evaluation → a route with `upstream_protocol: h2c` → a grpc-js server. Authentication by
 * metadata, spoofed identity metadata stripped, identity metadata injected and the credential
 * removed, trailers and statuses relayed, server streaming, a deadline longer than a timer holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import { echoClient, grpc, startEchoServer, unary, unaryError, type EchoClient, type EchoServer, type Msg } from '../../helpers/grpc.js';

let server: EchoServer;
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let client: EchoClient;

before(async () => {
  server = await startEchoServer();
  kratos = await startFakeKratos();
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    identity_headers: { 'X-User-Email': 'identity.traits.email' },
    routes: [
      {
        name: 'echo',
        match: { path_prefix: '/kgtest.Echo' },
        upstream: `http://${server.address}`,
        upstream_protocol: 'h2c',
        auth: 'required',
      },
    ],
  });
  client = echoClient(new URL(gw.proxyUrl).host);
});
after(async () => {
  client.close();
  await gw.shutdown();
  await server.close();
  await kratos.close();
});

function metadata(entries: Record<string, string>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) md.set(k, v);
  return md;
}

test('without a session: UNAUTHENTICATED, and the server never sees the call', async () => {
  const calls = server.state.peers.length;
  const err = await unaryError(client, { text: 'metadata' });
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.equal(server.state.peers.length, calls);
});

test('with a session: the identity is injected, the credential and spoofed identity metadata are not passed on', async () => {
  const s = kratos.addSession({ traits: { email: 'ada@example.com' } });
  const reply = await unary(
    client,
    { text: 'metadata' },
    metadata({ 'x-session-token': s.token, 'x-kratos-authenticated-identity-id': 'spoofed', 'x-user-email': 'spoofed@evil.test' }),
  );
  const seen = JSON.parse(reply.text!) as Record<string, string>;
  assert.equal(seen['x-kratos-authenticated-identity-id'], s.identityId);
  assert.equal(seen['x-user-email'], 'ada@example.com');
  assert.equal(seen['x-session-token'], undefined);
  assert.ok(!JSON.stringify(seen).includes('spoofed'));
});

test("the server's status, message and trailing metadata reach the client", async () => {
  const s = kratos.addSession();
  const err = await unaryError(client, { text: 'fail', count: grpc.status.FAILED_PRECONDITION }, metadata({ 'x-session-token': s.token }));
  assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(err.details, 'failed: ü 100% done');
  assert.deepEqual(err.metadata.get('x-detail'), ['why it failed']);
});

test('server streaming relays every message', async () => {
  const s = kratos.addSession();
  const got: Msg[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.ServerStream({ count: 5 }, metadata({ 'x-session-token': s.token }));
    call.on('data', (m: Msg) => got.push(m));
    call.on('error', reject);
    call.on('end', () => resolve());
  });
  assert.equal(got.length, 5);
});

test('the access line says grpc', async () => {
  const s = kratos.addSession();
  await unary(client, { text: 'x' }, metadata({ 'x-session-token': s.token }));
  const lines = gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.route === 'echo' && l.status === 200);
  assert.ok(lines.length > 0);
  assert.ok(lines.every((l) => l.protocol === 'grpc'));
});

test('a deadline further off than a timer holds (grpc-timeout of 30 days) is not cut short', async () => {
  // grpc-js sends it as "2592000S": 2.6e9 ms, past the 2^31-1 ms a Node timer can wait. A
  // grpc-js server cuts such a call short itself, so the upstream here is a node:http2 one that
  // sends the request message back after a pause (well past the 1 ms an overflowing timer waits).
  const seen: string[] = [];
  const upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    seen.push(String(headers['grpc-timeout']));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat(chunks));
      }, 100),
    );
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  upstream.on('session', (s) => sessions.add(s));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const far = await startTestGateway({
    kratos: { public_url: kratos.url },
    routes: [{ name: 'far', match: { path_prefix: '/' }, upstream: upstreamUrl, upstream_protocol: 'h2c', auth: 'anonymous' }],
  });
  const farClient = echoClient(new URL(far.proxyUrl).host);
  try {
    const deadline = Date.now() + 30 * 24 * 3_600_000;
    const reply = await unary(farClient, { text: 'far' }, new grpc.Metadata(), { deadline });
    assert.equal(reply.text, 'far');
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, /^\d{1,8}[HMS]$/, 'the upstream is sent the deadline');
  } finally {
    farClient.close();
    await far.shutdown();
    for (const s of sessions) s.destroy();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
