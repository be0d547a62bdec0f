/**
 * Every refusal of a gRPC request is a gRPC status (trailers-only, HTTP 200), never a 401, 302 or
 * HTML page: checked with a real @grpc/grpc-js client, and on the wire with node:http2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { request } from 'undici';
import { startStack, type Stack } from '../../helpers/servers.js';
import { h2Connect } from '../../helpers/h2.js';

const identity = (b: Buffer) => b;

function unary(client: Client, path: string, metadata: Record<string, string> = {}): Promise<ServiceError | undefined> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from('ping'), md, (err) => resolve(err ?? undefined));
  });
}

describe('gRPC-form refusals', () => {
  let stack: Stack;
  let client: Client;

  before(async () => {
    stack = await startStack((u) => ({
      routes: [
        { name: 'open', match: { path_prefix: '/open.Svc' }, upstream: u.upstream, auth: 'anonymous' },
        {
          name: 'admin',
          match: { path_prefix: '/admin.Svc' },
          upstream: u.upstream,
          auth: 'required',
          policy: { path: 'identity.traits.email', equals: 'boss@example.com' },
        },
        { name: 'mfa', match: { path_prefix: '/mfa.Svc' }, upstream: u.upstream, auth: 'required', policy: { aal: 'aal2' } },
        // on_unauthenticated redirect: a browser would be sent to log in; a gRPC client never is.
        { name: 'app', match: { path_prefix: '/app.Svc' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'redirect' },
      ],
    }));
    client = new Client(new URL(stack.gw.proxyUrl).host, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await stack.close();
  });

  test('no credential, or an unknown one: 16 UNAUTHENTICATED (not a redirect, even on a redirect route)', async () => {
    assert.equal((await unary(client, '/app.Svc/Call'))?.code, Status.UNAUTHENTICATED);
    assert.equal((await unary(client, '/admin.Svc/Call', { 'x-session-token': 'not-a-session' }))?.code, Status.UNAUTHENTICATED);
  });

  test('a policy refusal: 7 PERMISSION_DENIED; a step-up names session_aal2_required', async () => {
    const s = stack.kratos.addSession({ traits: { email: 'ada@example.com' }, aal: 'aal1' });
    const denied = await unary(client, '/admin.Svc/Call', { 'x-session-token': s.token });
    assert.equal(denied?.code, Status.PERMISSION_DENIED);
    const stepUp = await unary(client, '/mfa.Svc/Call', { 'x-session-token': s.token });
    assert.equal(stepUp?.code, Status.PERMISSION_DENIED);
    assert.match(stepUp?.details ?? '', /session_aal2_required/);
  });

  test('no route: 12 UNIMPLEMENTED', async () => {
    const err = await unary(client, '/nowhere.Svc/Call');
    assert.equal(err?.code, Status.UNIMPLEMENTED);
  });

  test('a gRPC request for a route whose upstream speaks HTTP/1.1 is refused with 12 UNIMPLEMENTED and never sent', async () => {
    const before = stack.upstream.received.length;
    const err = await unary(client, '/open.Svc/Call');
    assert.equal(err?.code, Status.UNIMPLEMENTED);
    assert.match(err?.details ?? '', /HTTP\/1\.1/);
    assert.equal(stack.upstream.received.length, before);
  });

  test('Kratos failing: 14 UNAVAILABLE; Kratos rate limiting: 8 RESOURCE_EXHAUSTED', async () => {
    const s = stack.kratos.addSession({ traits: { email: 'boss@example.com' } });
    stack.kratos.state.fault = { kind: 'status', status: 500 };
    try {
      assert.equal((await unary(client, '/admin.Svc/Call', { 'x-session-token': s.token }))?.code, Status.UNAVAILABLE);
      stack.kratos.state.fault = { kind: 'status', status: 429, headers: { 'retry-after': '3' } };
      const other = stack.kratos.addSession();
      assert.equal((await unary(client, '/admin.Svc/Call', { 'x-session-token': other.token }))?.code, Status.RESOURCE_EXHAUSTED);
    } finally {
      stack.kratos.state.fault = { kind: 'normal' };
    }
  });

  test('a malformed path: 3 INVALID_ARGUMENT', async () => {
    const err = await unary(client, '/open.Svc%2F..%2Fadmin.Svc/Call');
    assert.equal(err?.code, Status.INVALID_ARGUMENT);
  });

  test('on the wire: HTTP 200, application/grpc, trailers-only with a percent-encoded grpc-message', async () => {
    const session = await h2Connect(stack.gw.proxyUrl);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/app.Svc/Call',
        'content-type': 'application/grpc+proto',
        te: 'trailers',
      });
      stream.end();
      const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
      let trailers = false;
      let data = 0;
      stream.on('trailers', () => (trailers = true));
      stream.on('data', (c: Buffer) => (data += c.length));
      await new Promise((resolve) => stream.once('close', resolve));
      assert.equal(headers[':status'], 200);
      assert.equal(headers['content-type'], 'application/grpc');
      assert.equal(headers['grpc-status'], '16');
      assert.equal(headers['grpc-message'], 'The request could not be authorized');
      assert.equal(headers.location, undefined);
      assert.equal(headers['www-authenticate'], undefined);
      assert.equal(trailers, false, 'the status came in the one HEADERS frame');
      assert.equal(data, 0);
      assert.equal(stream.rstCode, 0);
    } finally {
      session.close();
    }
  });

  test('gRPC over HTTP/1.1 is not gRPC: it is answered as any HTTP/1.1 request', async () => {
    const res = await request(stack.gw.proxyUrl + '/admin.Svc/Call', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc' },
      body: 'x',
    });
    await res.body.dump();
    assert.equal(res.statusCode, 401);
  });
});
