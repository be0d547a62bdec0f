/**
 * HTTP/2 upstreams that answer what HTTP does not allow: the gateway answers its clients as for
 * any failing upstream and goes on serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { field, Flag, frame, FrameType, startRawH2Upstream } from '../../helpers/h2-frames.js';
import { h2Once } from '../../helpers/h2.js';
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
