import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack } from '../../helpers/servers.js';

describe('logging never contains credentials; shutdown drains', () => {
  test('cookies, bearer tokens, session tokens and set-cookie values never reach a log line', async () => {
    const { kratos, gw, close } = await startStack((u) => ({
      log: { level: 'trace' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream }],
    }));
    kratos.state.setCookie = 'ory_kratos_session=REFRESHED-SECRET; Path=/';
    try {
      const s = kratos.addSession();
      const secrets = [s.token, 'REFRESHED-SECRET', 'other-secret-cookie'];
      for (const headers of [
        { 'x-session-token': s.token },
        { authorization: `Bearer ${s.token}` },
        { cookie: `ory_kratos_session=${s.token}; other=other-secret-cookie` },
        { 'x-session-token': 'not-valid-but-still-secret' },
      ]) {
        const res = await request(gw.proxyUrl + '/status/200', { headers });
        await res.body.dump();
      }
      secrets.push('not-valid-but-still-secret');
      await gw.shutdown();
      const lines = gw.logLines.join('\n');
      assert.ok(gw.logLines.filter((l) => l.includes('"msg":"request"')).length >= 4, 'access lines were written');
      for (const secret of secrets) assert.ok(!lines.includes(secret), `log contains a credential: ${secret.slice(0, 6)}…`);
      const access = JSON.parse(gw.logLines.find((l) => l.includes('"msg":"request"') && l.includes('"status":200'))!) as Record<
        string,
        unknown
      >;
      assert.equal(access.route, 'app');
      assert.equal(access.client, '127.0.0.1');
      assert.equal(access.identity, s.identityId);
      assert.equal(typeof access.reqId, 'string');
    } finally {
      await close();
    }
  });

  test('the access line names the client: X-Forwarded-For read right to left, past trusted proxies only', async () => {
    const { gw, close } = await startStack((u) => ({
      proxy: { trusted_proxies: ['127.0.0.1'] },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
    }));
    try {
      // The left-most entry is whatever the client wrote; 10.0.0.7 is what our trusted proxy saw.
      const res = await request(gw.proxyUrl + '/x', { headers: { 'x-forwarded-for': '6.6.6.6, 10.0.0.7' } });
      await res.body.dump();
      await gw.shutdown();
      const line = gw.logLines.find((l) => l.includes('"msg":"request"'))!;
      assert.equal((JSON.parse(line) as { client: string }).client, '10.0.0.7');
    } finally {
      await close();
    }
  });

  test('shutdown: readiness turns false, in-flight requests finish, new connections are refused', async () => {
    const { gw, upstream, close } = await startStack((u) => ({
      proxy: { shutdown_grace_ms: 10_000 },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' }],
    }));
    try {
      const ready = await request(gw.adminUrl + '/health/ready');
      assert.equal(ready.statusCode, 200);
      await ready.body.dump();
      const inflight = request(gw.proxyUrl + '/slow'); // upstream answers after 3 s
      // In flight means at the upstream: a connection still in the listen backlog when the
      // listener closes is reset, however long the test would have slept on a busy machine.
      for (let n = 0; n < 3000 && !upstream.received.some((r) => r.url === '/slow'); n++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(
        upstream.received.some((r) => r.url === '/slow'),
        'the slow request reached the upstream',
      );
      const stopping = gw.shutdown();
      const res = await inflight;
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'slow');
      await stopping;
      await assert.rejects(request(gw.proxyUrl + '/x'), /ECONNREFUSED/);
    } finally {
      await close();
    }
  });
});
