/**
 * The admin listener's HTTP/2 side at the protocol level, with node:http2 as a client that can
 * send what a gRPC library will not: malformed framing, compression, a deadline, non-gRPC
 * requests; and what shutting down does to an open HTTP/2 connection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';
import { checkRequestFor } from '../../helpers/ext-authz-client.js';
import { loadReference } from '../../helpers/ext-authz-protos.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const CHECK = '/envoy.service.auth.v3.Authorization/Check';
const reference = loadReference();
const CheckRequest = reference.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponse = reference.lookupType('envoy.service.auth.v3.CheckResponse');

function frame(message: Uint8Array, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

const encode = (req: Record<string, unknown>) => CheckRequest.encode(CheckRequest.fromObject(req)).finish();

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  data: Buffer;
  rstCode: number;
}

function send(session: ClientHttp2Session, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': CHECK,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const answer: Answer = { headers: {}, trailers: {}, data: Buffer.alloc(0), rstCode: 0 };
    stream.on('response', (h) => (answer.headers = h));
    stream.on('trailers', (t) => (answer.trailers = t));
    stream.on('data', (c: Buffer) => (answer.data = Buffer.concat([answer.data, c])));
    stream.on('error', () => {});
    stream.on('close', () => resolve({ ...answer, rstCode: stream.rstCode ?? 0 }));
    stream.end(body);
  });
}

/** grpc-status and grpc-message, from the trailers or a trailers-only response. */
const statusOf = (a: Answer) => ({
  code: Number(a.trailers['grpc-status'] ?? a.headers['grpc-status']),
  message: String(a.trailers['grpc-message'] ?? a.headers['grpc-message'] ?? ''),
});

describe('ext_authz over h2c: protocol', () => {
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let gw: Gateway;
  let session: ClientHttp2Session;

  before(async () => {
    kratos = await startFakeKratos();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required' }],
    });
    session = connect(gw.adminUrl);
    session.on('error', () => {});
  });
  after(async () => {
    session.close();
    await gw.shutdown();
    await kratos.close();
  });

  test('a Check answers one message, then grpc-status 0 in the trailers', async () => {
    const a = await send(session, frame(encode(checkRequestFor({ path: '/x', host: 'a.example' }))));
    assert.equal(a.headers[':status'], 200);
    assert.equal(a.headers['content-type'], 'application/grpc');
    assert.deepEqual(statusOf(a), { code: 0, message: '' });
    assert.equal(a.data.readUInt32BE(1), a.data.length - 5);
    const r = CheckResponse.toObject(CheckResponse.decode(a.data.subarray(5)), { defaults: false }) as {
      status: { code: number };
      denied_response: { status: { code: number } };
    };
    assert.equal(r.status.code, 16);
    assert.equal(r.denied_response.status.code, 401);
  });

  test('a CheckRequest that names no HTTP request: INVALID_ARGUMENT with a 400, as an answer', async () => {
    const a = await send(session, frame(new Uint8Array(0)));
    assert.equal(statusOf(a).code, 0);
    const r = CheckResponse.toObject(CheckResponse.decode(a.data.subarray(5)), { defaults: false }) as {
      status: { code: number };
      denied_response: { status: { code: number } };
    };
    assert.equal(r.status.code, 3);
    assert.equal(r.denied_response.status.code, 400);
  });

  test('malformed framing is INTERNAL; bytes that are no CheckRequest are INVALID_ARGUMENT', async () => {
    const message = encode(checkRequestFor({ path: '/x', host: 'a.example' }));
    const cases: Array<[string, Buffer, number]> = [
      ['a short prefix', Buffer.from([0, 0, 0]), 13],
      ['a length longer than the body', frame(message).subarray(0, 20), 13],
      ['two messages', Buffer.concat([frame(message), frame(message)]), 13],
      ['the compressed flag without an encoding', frame(message, 1), 13],
      ['no message at all', Buffer.alloc(0), 13],
      ['not protobuf', frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), 3],
    ];
    for (const [what, body, code] of cases) assert.equal(statusOf(await send(session, body)).code, code, what);
  });

  test('compression, an unknown method and a malformed grpc-timeout are refused as the protocol says', async () => {
    const message = frame(encode(checkRequestFor({ path: '/x', host: 'a.example' })));
    const gzip = await send(session, message, { 'grpc-encoding': 'gzip' });
    assert.equal(statusOf(gzip).code, 12);
    assert.equal(gzip.headers['grpc-accept-encoding'], 'identity');
    const unknown = await send(session, message, { ':path': '/envoy.service.auth.v3.Authorization/Nope' });
    assert.deepEqual(statusOf(unknown), { code: 12, message: 'Method not found: /envoy.service.auth.v3.Authorization/Nope' });
    assert.equal(statusOf(await send(session, message, { 'grpc-timeout': '10x' })).code, 13);
  });

  test('a message over 4 MiB is RESOURCE_EXHAUSTED', async () => {
    const big = frame(encode({ attributes: { request: { http: { body: 'x'.repeat(4 * 1024 * 1024) } } } }));
    assert.equal(statusOf(await send(session, big)).code, 8);
  });

  test('grpc-timeout: a Check still waiting for Kratos at its deadline is DEADLINE_EXCEEDED', async () => {
    kratos.state.fault = { kind: 'hang' };
    try {
      const s = kratos.addSession();
      const req = checkRequestFor({ path: '/x', host: 'a.example', headers: { 'x-session-token': s.token } });
      const a = await send(session, frame(encode(req)), { 'grpc-timeout': '300m' });
      assert.deepEqual(statusOf(a), { code: 4, message: 'Deadline exceeded' });
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
  });

  test('any other HTTP/2 request is reset with HTTP_1_1_REQUIRED', async () => {
    const rstCode = await new Promise<number>((resolve) => {
      const stream = session.request({ ':path': '/health/alive' });
      stream.on('error', () => {});
      stream.on('close', () => resolve(stream.rstCode ?? -1));
      stream.resume();
    });
    assert.equal(rstCode, constants.NGHTTP2_HTTP_1_1_REQUIRED);
  });
});

describe('ext_authz over h2c: shutting down', () => {
  test('an open HTTP/2 connection gets GOAWAY and does not hold the shutdown', async () => {
    const gw = await startTestGateway({ kratos: { public_url: 'http://127.0.0.1:9' }, routes: [] });
    const session = connect(gw.adminUrl);
    session.on('error', () => {});
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const a = await send(session, frame(encode(checkRequestFor({ path: '/x', host: 'a.example' }))));
    assert.equal(statusOf(a).code, 0);
    await gw.shutdown();
    await goaway;
    await closed;
    assert.ok(session.destroyed);
  });
});
