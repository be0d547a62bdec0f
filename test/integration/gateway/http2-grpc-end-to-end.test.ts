/**
 * gRPC end to end through the gateway: a @grpc/grpc-js client → the proxy port (h2c) → the one
 * evaluation → a route with `upstream_protocol: h2c` → a grpc-js server. Authentication by
 * metadata, spoofed identity metadata stripped, identity metadata injected and the credential
 * removed, trailers and statuses relayed, server streaming.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
