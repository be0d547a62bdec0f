/**
 * HTTP/2 upstreams that answer what HTTP does not allow, and gRPC deadlines at the edges of
 * what `grpc-timeout` can say: the gateway answers its clients as for any failing upstream and
 * goes on serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { field, Flag, frame, FrameType, startRawH2Upstream } from '../../helpers/h2-frames.js';
import { h2Once } from '../../helpers/h2.js';
import { echoClient, GRPC_RESPONSE, grpcFrame, startForwarding, startH2Upstream, unary } from '../../helpers/grpc.js';
import { startTestGateway } from '../../helpers/servers.js';

type RawUpstream = Awaited<ReturnType<typeof startRawH2Upstream>>;

describe('an upstream answering a status HTTP does not define', () => {
  let upstream: RawUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    // `:status: 600`: three digits, so nghttp2 passes it on; HTTP's status codes end at 599.
    upstream = await startRawH2Upstream((streamId, send) =>
      send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, streamId, field(':status', '600'))),
    );
    gw = await startTestGateway({
      log: { access_log: false },
      routes: [{ name: 'odd', match: { path_prefix: '/' }, upstream: upstream.url, upstream_protocol: 'h2c', auth: 'anonymous' }],
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('an HTTP/2 client gets a 502, and the gateway goes on serving', async () => {
    const first = await h2Once(gw.proxyUrl, { ':path': '/one' });
    assert.equal(first.status, 502);
    const second = await h2Once(gw.proxyUrl, { ':path': '/two' });
    assert.equal(second.status, 502);
    assert.equal(upstream.requests, 2);
  });

  test('a gRPC client gets UNAVAILABLE', async () => {
    const res = await h2Once(
      gw.proxyUrl,
      { ':method': 'POST', ':path': '/kgtest.Echo/Unary', 'content-type': 'application/grpc' },
      Buffer.alloc(5),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['grpc-status'], '14');
  });

  test('an HTTP/1.1 client gets a 502, not the invalid status', async () => {
    const res = await request(`${gw.proxyUrl}/three`);
    await res.body.dump();
    assert.equal(res.statusCode, 502);
  });
});

describe('grpc-timeout beyond what a timer holds', () => {
  // A node:http2 upstream that answers every call with one message: it keeps no deadline of its
  // own (grpc-js servers fire such a deadline at once, as the gateway did).
  const startUpstream = () =>
    startH2Upstream((stream) => {
      const respond = () => {
        stream.respond(GRPC_RESPONSE, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(grpcFrame('far'));
      };
      if (stream.readableEnded) respond();
      else stream.once('end', respond);
    });

  test('a deadline 30 days away (grpc-js sends 2592000S) is not taken for one already passed', async () => {
    const upstream = await startUpstream();
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    const client = echoClient(front.address);
    try {
      const reply = await unary(client, { text: 'far' }, undefined, { deadline: Date.now() + 30 * 24 * 3_600_000 });
      assert.equal(reply.text, 'far');
      assert.equal(upstream.seen[0]!.headers['grpc-timeout'], '2592000S');
    } finally {
      client.close();
      await close();
      await upstream.close();
    }
  });

  test('the largest grpc-timeout (99999999H) is answered by the upstream, not cut here', async () => {
    const upstream = await startUpstream();
    const { front, close } = await startForwarding(upstream.url, 'h2c');
    try {
      const res = await h2Once(
        front.url,
        {
          ':method': 'POST',
          ':path': '/kgtest.Echo/Unary',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': '99999999H',
        },
        grpcFrame('far'),
      );
      assert.equal(res.status, 200);
      assert.equal(front.results[0]?.grpcStatus, '0');
    } finally {
      await close();
      await upstream.close();
    }
  });
});
