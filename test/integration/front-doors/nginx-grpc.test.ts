/**
 * gRPC through a real nginx (Debian's nginx-light, `grpc_pass` + `auth_request`) with the
 * gateway's decision API deciding: config/examples/nginx/grpc_auth_request.conf as shipped
 * (only its two upstream addresses and its listen port replaced), a real @grpc/grpc-js server
 * behind it and a real @grpc/grpc-js client in front. The decision API answers refusals in
 * HTTP status codes; the recipe's error pages turn them into gRPC statuses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../../helpers/front-doors.js';
import { startForwardAuthRig, type ForwardAuthRig } from '../../helpers/forward-auth-rig.js';
import { replaceOnce, startNginx, type RunningNginx } from '../deploy/nginx.js';

const EXAMPLE = readFileSync(join(repoRoot, 'config/examples/nginx/grpc_auth_request.conf'), 'utf8');
const definition = protoLoader.loadSync(join(repoRoot, 'test/fixtures/grpc/identity-echo.proto'), { keepCase: true });
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  kratosgateway: { test: { IdentityEcho: grpc.ServiceClientConstructor } };
};
const IdentityEcho = pkg.kratosgateway.test.IdentityEcho;

interface WhoReply {
  identity_id: string;
  user_email: string;
  note: string;
}

/** A gRPC service that answers with the identity metadata it received. */
async function startIdentityEcho(): Promise<{ port: number; calls: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  const state = { calls: 0 };
  server.addService(IdentityEcho.service, {
    Who(call: grpc.ServerUnaryCall<{ note: string }, WhoReply>, callback: grpc.sendUnaryData<WhoReply>) {
      state.calls++;
      const m = call.metadata;
      callback(null, {
        identity_id: String(m.get('x-kratos-authenticated-identity-id')[0] ?? ''),
        user_email: String(m.get('x-user-email')[0] ?? ''),
        note: call.request.note,
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    get calls() {
      return state.calls;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

function who(client: grpc.Client, metadata: Record<string, string>, note = 'hi'): Promise<WhoReply> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) =>
    (client as unknown as { Who: (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: WhoReply) => void) => void }).Who(
      { note },
      md,
      (err, reply) => (err ? reject(err) : resolve(reply)),
    ),
  );
}

async function refusal(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as grpc.ServiceError,
  );
  assert.ok(err, 'the call was refused');
  return err;
}

describe('nginx grpc_pass + auth_request against the decision API', () => {
  let rig: ForwardAuthRig;
  let service: Awaited<ReturnType<typeof startIdentityEcho>>;
  let nginx: RunningNginx;
  let client: grpc.Client;

  before(async () => {
    service = await startIdentityEcho();
    rig = await startForwardAuthRig((upstream) => ({
      routes: [
        // Only alice's colleagues at example.org may call it: alice (example.com) is refused.
        {
          name: 'partners',
          match: { path_prefix: '/partners.Directory' },
          upstream,
          policy: { path: 'identity.traits.email', ends_with: '@example.org' },
        },
        { name: 'echo', match: { path_prefix: '/kratosgateway.test.IdentityEcho' }, upstream, auth: 'required' },
      ],
    }));
    nginx = await startNginx((port) => {
      let conf = replaceOnce(EXAMPLE, 'server 127.0.0.1:4456;', `server 127.0.0.1:${new URL(rig.gateway.adminUrl).port};`);
      conf = replaceOnce(conf, 'server 127.0.0.1:50051;', `server 127.0.0.1:${service.port};`);
      return replaceOnce(conf, 'listen 127.0.0.1:8001 http2;', `listen 127.0.0.1:${port} http2;`);
    });
    client = new IdentityEcho(new URL(nginx.url).host, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await nginx?.stop();
    await rig?.close();
    await service?.close();
  });

  it('an allowed call reaches the service with the identity metadata from the decision', async () => {
    const reply = await who(client, { 'x-session-token': rig.alice.token }, 'allowed');
    assert.deepEqual(reply, { identity_id: rig.alice.identityId, user_email: 'alice@example.com', note: 'allowed' });
  });

  it('identity metadata a client sends never reaches the service', async () => {
    const reply = await who(client, {
      'x-session-token': rig.alice.token,
      'x-kratos-authenticated-identity-id': 'mallory',
      'x-user-email': 'mallory@example.com',
    });
    assert.equal(reply.identity_id, rig.alice.identityId);
    assert.equal(reply.user_email, 'alice@example.com');
  });

  it('no credential is UNAUTHENTICATED, not an HTTP error, and the service is not called', async () => {
    const before = service.calls;
    const err = await refusal(who(client, {}));
    assert.equal(err.code, grpc.status.UNAUTHENTICATED, err.message);
    assert.equal(err.details, 'no valid Kratos session');
    assert.equal(service.calls, before);
  });

  it('an unknown token is UNAUTHENTICATED', async () => {
    const err = await refusal(who(client, { 'x-session-token': 'not-a-session' }));
    assert.equal(err.code, grpc.status.UNAUTHENTICATED, err.message);
  });

  it('a policy refusal is PERMISSION_DENIED', async () => {
    const partners = new grpc.Client(new URL(nginx.url).host, grpc.credentials.createInsecure());
    try {
      const md = new grpc.Metadata();
      md.set('x-session-token', rig.alice.token);
      const err = await refusal(
        new Promise((resolve, reject) =>
          partners.makeUnaryRequest(
            '/partners.Directory/List',
            () => Buffer.alloc(0),
            (b: Buffer) => b,
            {},
            md,
            (e, r) => (e ? reject(e) : resolve(r)),
          ),
        ),
      );
      assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.message);
    } finally {
      partners.close();
    }
  });

  it('Kratos unavailable is UNAVAILABLE', async () => {
    rig.kratos.state.fault = { kind: 'status', status: 503 };
    try {
      const err = await refusal(who(client, { 'x-session-token': 'fresh-token-not-cached' }));
      assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
    } finally {
      rig.kratos.state.fault = { kind: 'normal' };
    }
  });

  it('Kratos rate limiting is RESOURCE_EXHAUSTED', async () => {
    rig.kratos.state.fault = { kind: 'status', status: 429 };
    try {
      const err = await refusal(who(client, { 'x-session-token': 'another-uncached-token' }));
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, err.message);
    } finally {
      rig.kratos.state.fault = { kind: 'normal' };
    }
  });
});
