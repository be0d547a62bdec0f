/**
 * Hop-by-hop headers (src/http/hop-by-hop.ts) and the order the proxy applies the
 * header stages in: strip identity headers → strip hop-by-hop → mutators. `Connection` may
 * name hop-by-hop fields, but never one the gateway injects ("Abusing HTTP hop-by-hop
 * request headers", N. Davison 2019).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigSnapshot } from '../../../src/gateway/config-snapshot.js';
import { isHopByHopResponseHeader, stripHopByHop } from '../../../src/http/hop-by-hop.js';
import { stripIdentityHeaders } from '../../../src/gateway/pipeline/strip-protected-headers.js';
import type { ForwardContext } from '../../../src/gateway/pipeline/mutators/index.js';
import { ALICE as SESSION } from '../../helpers/session-summary.js';

const config = parseConfig({
  identity_headers: { 'X-User-Email': 'identity.traits.email', 'X-Kratos-Session-Id': 'session.id' },
  routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'required' }],
});
const snapshot = new ConfigSnapshot(config);
const route = snapshot.routes.all[0]!;

/** The proxy handler's header stages for an authenticated HTTP (or WebSocket) request. */
function pipeline(headers: IncomingHttpHeaders, keepUpgrade = false): IncomingHttpHeaders {
  stripIdentityHeaders(headers, snapshot.protectedHeaderNames);
  stripHopByHop(headers, snapshot.injectedHeaderNames, keepUpgrade);
  const ctx: ForwardContext = {
    route,
    session: SESSION,
    credentialKind: 'cookie',
    requestId: 'req-1',
    peerAddress: '203.0.113.9',
    peerTrusted: false,
    encrypted: false,
  };
  for (const m of snapshot.mutators) m.mutate(headers, ctx);
  return headers;
}

describe('Connection tokens cannot remove injected headers', () => {
  test('Connection: close, X-Kratos-Authenticated-Identity-Id, x-user-email', () => {
    const h = pipeline({
      host: 'gw',
      connection: 'close, X-Kratos-Authenticated-Identity-Id, x-user-email',
      'x-kratos-authenticated-identity-id': 'spoofed',
      cookie: 'ory_kratos_session=tok',
    });
    assert.equal(h['x-kratos-authenticated-identity-id'], SESSION.identityId);
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h['x-kratos-session-id'], 'sess-1');
    assert.equal(h.connection, undefined, 'the Connection header itself is hop-by-hop');
  });

  test('underscore and case variants in Connection change nothing either', () => {
    const h = pipeline({
      host: 'gw',
      connection:
        'X_KRATOS_AUTHENTICATED_IDENTITY_ID,X-USER-EMAIL , x-kratos-session-id,x-forwarded-for,x-request-id,x-forwarded-host,x-forwarded-proto',
    });
    assert.equal(h['x-kratos-authenticated-identity-id'], SESSION.identityId);
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h['x-kratos-session-id'], 'sess-1');
    assert.equal(h['x-forwarded-for'], '203.0.113.9');
    assert.equal(h['x-forwarded-host'], 'gw');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-request-id'], 'req-1');
  });

  test('stripHopByHop alone never deletes an injected name or any X-Kratos-* header', () => {
    const h: IncomingHttpHeaders = {
      connection: 'x-user-email, x-kratos-anything, X-Kratos-Authenticated-Identity-Id',
      'x-user-email': 'a',
      'x-kratos-anything': 'b',
      'x-kratos-authenticated-identity-id': 'c',
    };
    stripHopByHop(h, snapshot.injectedHeaderNames);
    assert.deepEqual(h, { 'x-user-email': 'a', 'x-kratos-anything': 'b', 'x-kratos-authenticated-identity-id': 'c' });
  });

  test('WebSocket handshake: the forwarded Connection header names only "upgrade"', () => {
    const h = pipeline(
      {
        host: 'gw',
        connection: 'Upgrade, X-Kratos-Authenticated-Identity-Id, x-user-email, foo',
        upgrade: 'websocket',
        foo: 'bar',
        'sec-websocket-key': 'k',
        'sec-websocket-version': '13',
      },
      true,
    );
    assert.equal(h.upgrade, 'websocket');
    assert.equal(h['x-kratos-authenticated-identity-id'], SESSION.identityId);
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h.foo, undefined);
    // Forwarding "Connection: ..., X-Kratos-Authenticated-Identity-Id" would let the next hop drop the identity.
    assert.ok(typeof h.connection === 'string', 'Connection is kept for the upgrade');
    const tokens = h.connection.split(',').map((t) => t.trim().toLowerCase());
    assert.deepEqual(tokens, ['upgrade']);
    assert.equal(h['sec-websocket-key'], 'k');
  });
});

describe('stripHopByHop', () => {
  test('Connection: foo removes foo (any case, with spaces) and keeps the rest', () => {
    const h: IncomingHttpHeaders = { connection: ' Foo ,  ,BAR', foo: '1', bar: '2', baz: '3' };
    stripHopByHop(h, new Set());
    assert.deepEqual(h, { baz: '3' });
  });

  test('the RFC 9110 hop-by-hop fields are removed', () => {
    const h: IncomingHttpHeaders = {
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic eDp5',
      'proxy-authenticate': 'Basic',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'http2-settings': 'AAMAAABkAAQCAAAAAAIAAAAA',
      accept: 'application/json',
      authorization: 'Bearer kept',
    };
    stripHopByHop(h, new Set());
    assert.deepEqual(h, { accept: 'application/json', authorization: 'Bearer kept' });
  });

  test('keepUpgrade keeps Upgrade and Connection for a WebSocket handshake, still drops the rest', () => {
    const h: IncomingHttpHeaders = {
      connection: 'Upgrade',
      upgrade: 'websocket',
      te: 'trailers',
      'keep-alive': '1',
      'proxy-authorization': 'x',
    };
    stripHopByHop(h, new Set(), true);
    assert.equal(h.upgrade, 'websocket');
    assert.equal(h.connection?.toLowerCase(), 'upgrade');
    assert.equal(h.te, undefined);
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-authorization'], undefined);
  });

  test('without keepUpgrade, Upgrade and Connection go', () => {
    const h: IncomingHttpHeaders = { connection: 'Upgrade', upgrade: 'websocket' };
    stripHopByHop(h, new Set());
    assert.deepEqual(h, {});
  });

  test('host, content-length and content-type are never removed by a Connection token', () => {
    const h: IncomingHttpHeaders = {
      connection: 'host, content-length, Content-Type, close',
      host: 'gw',
      'content-length': '5',
      'content-type': 'text/plain',
    };
    stripHopByHop(h, new Set());
    assert.deepEqual(h, { host: 'gw', 'content-length': '5', 'content-type': 'text/plain' });
  });

  test('no Connection header: only the fixed list is removed', () => {
    const h: IncomingHttpHeaders = { te: 'trailers', accept: '*/*' };
    stripHopByHop(h, new Set());
    assert.deepEqual(h, { accept: '*/*' });
  });
});

describe('isHopByHopResponseHeader', () => {
  test('hop-by-hop response fields are recognised, end-to-end ones are not', () => {
    for (const n of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-authenticate'])
      assert.equal(isHopByHopResponseHeader(n), true, n);
    for (const n of ['content-type', 'set-cookie', 'location', 'cache-control']) assert.equal(isHopByHopResponseHeader(n), false, n);
  });
});
