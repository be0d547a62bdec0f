import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcStatusOf } from '../../../src/gateway/transport/grpc-refusal.js';
import { encodeGrpcMessage } from '../../../src/http/grpc-protocol.js';
import { isGrpc } from '../../../src/http/grpc-protocol.js';
import { forbidden, refuse, stepUp, stepUpRequired, unauthenticated, unavailable } from '../../../src/gateway/pipeline/refuse.js';

test('gRPC content types: application/grpc and application/grpc+codec, nothing that merely starts alike', () => {
  for (const t of ['application/grpc', 'application/grpc+proto', 'Application/GRPC+json', 'application/grpc;charset=utf-8'])
    assert.equal(isGrpc(t), true, t);
  for (const t of [undefined, '', 'application/grpc-web', 'application/grpcx', 'application/json', ['application/grpc']])
    assert.equal(isGrpc(t), false, String(t));
});

test('the status table: each refusal of the pipeline has its gRPC status', () => {
  const cases: Array<[ReturnType<typeof refuse>, number]> = [
    [unauthenticated('r'), 16],
    [refuse('login', 302, 'x', 'r'), 16],
    [forbidden('r', 'no', false), 7],
    [stepUpRequired('r', 'second factor'), 7],
    [stepUp('r', 'refresh', 'too old', undefined), 7],
    [unavailable('r', { status: 'unavailable', reason: 'connect' }), 14],
    [unavailable('r', { status: 'unavailable', reason: 'bad_status' }), 14],
    [unavailable('r', { status: 'unavailable', reason: 'timeout' }), 14],
    [unavailable('r', { status: 'unavailable', reason: 'rate_limited', retryAfter: '2' }), 8],
    [refuse('no_route', 404, 'x'), 12],
    [refuse('bad_request', 400, 'x'), 3],
    [refuse('framing', 400, 'x'), 3],
    [refuse('draining', 503, 'x'), 14],
  ];
  for (const [r, status] of cases) assert.equal(grpcStatusOf(r).status, status, `${r.reason} ${r.status}`);
  assert.match(grpcStatusOf(stepUp('r', 'refresh', 'too old', undefined)).message, /^session_refresh_required: /);
  assert.match(grpcStatusOf(stepUpRequired('r', 'x')).message, /^session_aal2_required: /);
});

test('grpc-message is percent-encoded: UTF-8, everything outside printable ASCII and % itself', () => {
  assert.equal(encodeGrpcMessage('plain text: ok'), 'plain text: ok');
  assert.equal(encodeGrpcMessage('100% sure'), '100%25 sure');
  assert.equal(encodeGrpcMessage('a\r\nb'), 'a%0D%0Ab');
  assert.equal(encodeGrpcMessage('café ☕'), 'caf%C3%A9 %E2%98%95');
});
