/**
 * HTTP/1.1 clients on a route whose upstream speaks HTTP/2 (`upstream_protocol: h2c`), through
 * a real gateway: the pipeline runs as for any route (identity injected, credentials removed),
 * bodies stream both ways, trailers reach a client that asked for them, and an unreachable
 * upstream is a 502 as on an HTTP/1.1 route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { startH2Upstream } from '../../helpers/grpc.js';
import { freePort, rawRequest, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Upstream = Awaited<ReturnType<typeof startH2Upstream>>;

describe('an HTTP/1.1 client on an h2c route', () => {
  let upstream: Upstream;
  let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    // Echoes what it received as JSON, with a trailer counting the request body's bytes.
    upstream = await startH2Upstream((stream, seen) => {
      const respond = () => {
        const body = Buffer.concat(seen.body);
        stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-body-bytes': String(body.length) }));
        stream.end(JSON.stringify({ headers: seen.headers, bytes: body.length }));
      };
      if (stream.readableEnded) respond();
      else stream.once('end', respond);
    });
    kratos = await startFakeKratos();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      log: { access_log: false },
      identity_headers: { 'X-User-Id': 'identity.id' },
      routes: [
        {
          name: 'dead',
          match: { path_prefix: '/dead' },
          upstream: `http://127.0.0.1:${await freePort()}`,
          upstream_protocol: 'h2c',
          auth: 'anonymous',
        },
        {
          name: 'h2c',
          match: { path_prefix: '/' },
          upstream: upstream.url,
          upstream_protocol: 'h2c',
          auth: 'required',
          on_unauthenticated: 'json',
        },
      ],
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
  });

  test('the request arrives over HTTP/2 as the pipeline made it: :authority from Host, identity in, credentials and hop-by-hop out', async () => {
    const { token, identityId } = kratos.addSession();
    // node:http sends what undici refuses to: Keep-Alive, and a Connection header naming another field.
    const seen = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
      const req = httpRequest(`${gw.proxyUrl}/hello?q=1`, {
        headers: {
          'x-session-token': token,
          'x-user-id': 'spoofed',
          connection: 'keep-alive, x-drop-me',
          'keep-alive': 'timeout=5',
          'x-drop-me': '1',
        },
        agent: false,
      });
      req.on('response', (res) => {
        assert.equal(res.statusCode, 200);
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text) as { headers: Record<string, string> }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(seen.headers[':path'], '/hello?q=1');
    assert.equal(seen.headers[':method'], 'GET');
    assert.equal(seen.headers[':authority'], new URL(gw.proxyUrl).host);
    assert.equal(seen.headers['x-user-id'], identityId);
    assert.equal(seen.headers['x-session-token'], undefined);
    for (const name of ['host', 'connection', 'keep-alive', 'x-drop-me', 'transfer-encoding', 'te'])
      assert.equal(seen.headers[name], undefined, name);
  });

  test('a refused request never reaches the upstream', async () => {
    const before = upstream.seen.length;
    const res = await request(`${gw.proxyUrl}/private`);
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    assert.equal(upstream.seen.length, before);
  });

  test('a large request body streams through whole', async () => {
    const { token } = kratos.addSession();
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    const res = await request(`${gw.proxyUrl}/upload`, { method: 'POST', headers: { 'x-session-token': token }, body });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { bytes: number }).bytes, body.length);
  });

  test('trailers reach a client that sent TE: trailers, and only such a client', async () => {
    const { token } = kratos.addSession();
    const ask = (te: string[]) =>
      rawRequest(
        gw.proxyUrl,
        ['POST /t HTTP/1.1', 'Host: gw', `X-Session-Token: ${token}`, 'Content-Length: 3', ...te, 'Connection: close'],
        'abc',
      );
    const withTe = await ask(['TE: trailers']);
    assert.match(withTe, /^HTTP\/1\.1 200 /);
    assert.match(withTe, /transfer-encoding: chunked/i);
    assert.match(withTe, /\r\n0\r\nx-body-bytes: 3\r\n\r\n$/i);
    const without = await ask([]);
    assert.match(without, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(without, /x-body-bytes/i);
  });

  test('an unreachable h2c upstream: 502 JSON, as on an HTTP/1.1 route', async () => {
    const res = await request(`${gw.proxyUrl}/dead/x`);
    assert.equal(res.statusCode, 502);
    assert.equal(((await res.body.json()) as { error: { code: number } }).error.code, 502);
  });
});
