/**
 * Readiness means "this gateway can serve"; Kratos reachability is a gauge, and a readiness
 * condition only when admin.readiness_requires_kratos is set.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request } from 'undici';
import { closeServer, freePort, listenOnFreePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

async function ready(adminUrl: string): Promise<{ status: number; body: { status: string } }> {
  const res = await request(adminUrl + '/health/ready');
  return { status: res.statusCode, body: (await res.body.json()) as { status: string } };
}

async function kratosUp(adminUrl: string): Promise<string | undefined> {
  const res = await request(adminUrl + '/metrics');
  const text = await res.body.text();
  return /^kratos_gateway_kratos_up (\S+)$/m.exec(text)?.[1];
}

/** A stand-in Kratos on a fixed port, started after the gateway to model "Kratos comes back". */
async function kratosOn(port: number) {
  const server = createServer((req, res) => {
    if (req.url === '/health/alive') return res.end('{"status":"ok"}');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { close: () => closeServer(server) };
}

describe('readiness and Kratos reachability', () => {
  test('Kratos down: ready by default, the gauge reads 0; Kratos back: the gauge reads 1', async () => {
    const port = await freePort();
    const upstream = await startEchoUpstream();
    const gw = await startTestGateway({
      kratos: { public_url: `http://127.0.0.1:${port}` },
      log: { access_log: false },
      routes: [{ name: 'public', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }],
    });
    try {
      const r = await ready(gw.adminUrl);
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(await kratosUp(gw.adminUrl), '0');
      // The point of staying ready: anonymous routes keep working through a Kratos outage.
      const res = await request(gw.proxyUrl + '/anything');
      await res.body.dump();
      assert.equal(res.statusCode, 200);

      const kratos = await kratosOn(port);
      try {
        // The probe refreshes the gauge; the scrape reads it.
        assert.equal((await ready(gw.adminUrl)).status, 200);
        let value = await kratosUp(gw.adminUrl);
        for (let i = 0; i < 20 && value !== '1'; i++) {
          await new Promise((r) => setTimeout(r, 50));
          value = await kratosUp(gw.adminUrl);
        }
        assert.equal(value, '1');
      } finally {
        await kratos.close();
      }
    } finally {
      await gw.shutdown();
      await upstream.close();
    }
  });

  test('admin.readiness_requires_kratos: 503 while Kratos is unreachable, 200 once it answers', async () => {
    const port = await freePort();
    const gw = await startTestGateway({
      admin: { readiness_requires_kratos: true },
      kratos: { public_url: `http://127.0.0.1:${port}` },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
    });
    try {
      const down = await ready(gw.adminUrl);
      assert.equal(down.status, 503);
      assert.equal(down.body.status, 'kratos_unreachable');
      assert.equal(await kratosUp(gw.adminUrl), '0');
      const kratos = await kratosOn(port);
      try {
        const up = await ready(gw.adminUrl);
        assert.equal(up.status, 200);
        assert.equal(await kratosUp(gw.adminUrl), '1');
      } finally {
        await kratos.close();
      }
    } finally {
      await gw.shutdown();
    }
  });

  test('a Kratos that answers /health/alive with an error counts as down under the opt-in', async () => {
    const server = createServer((_req, res) => res.writeHead(500).end());
    const url = await listenOnFreePort(server);
    const gw = await startTestGateway({
      admin: { readiness_requires_kratos: true },
      kratos: { public_url: url },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
    });
    try {
      const r = await ready(gw.adminUrl);
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { status: 'kratos_unhealthy', kratos_status: 500 });
    } finally {
      await gw.shutdown();
      await closeServer(server);
    }
  });

  test('503 while draining, whatever Kratos does', async () => {
    const port = await freePort();
    const kratos = await kratosOn(port);
    const gw = await startTestGateway({
      kratos: { public_url: `http://127.0.0.1:${port}` },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
    });
    try {
      assert.equal((await ready(gw.adminUrl)).status, 200);
      // shutdown() sets draining first and then closes the listeners after the grace
      // period; setting the flag alone observes the draining window without racing it.
      gw.core.draining = true;
      const r = await ready(gw.adminUrl);
      assert.equal(r.status, 503);
      assert.equal(r.body.status, 'draining');
    } finally {
      await gw.shutdown();
      await kratos.close();
    }
  });
});
