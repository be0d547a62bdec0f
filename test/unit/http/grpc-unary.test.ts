import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grpcTimeoutMs, isGrpc } from '../../../src/http/grpc-unary.js';

describe('gRPC request headers', () => {
  it('content-type: application/grpc and its +format and ;parameter forms', () => {
    for (const t of ['application/grpc', 'application/grpc+proto', 'Application/GRPC', 'application/grpc;charset=utf-8'])
      assert.ok(isGrpc(t), t);
    for (const t of [undefined, 'application/grpc-web', 'application/grpcx', 'application/json', 'text/plain'])
      assert.ok(!isGrpc(t), String(t));
  });

  it('grpc-timeout: up to 8 digits and a unit, in milliseconds; anything else is malformed', () => {
    assert.equal(grpcTimeoutMs(undefined), undefined);
    assert.equal(grpcTimeoutMs('2S'), 2_000);
    assert.equal(grpcTimeoutMs('1H'), 3_600_000);
    assert.equal(grpcTimeoutMs('3M'), 180_000);
    assert.equal(grpcTimeoutMs('250m'), 250);
    assert.equal(grpcTimeoutMs('1500u'), 1.5);
    assert.equal(grpcTimeoutMs('99999999n'), 99.999999);
    for (const bad of ['', 'S', '1', '1s', '-1S', '123456789S', '1.5S', ' 1S']) assert.ok(Number.isNaN(grpcTimeoutMs(bad)), bad);
    assert.ok(Number.isNaN(grpcTimeoutMs(['1S', '2S'])));
  });
});
