import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoUpstream, startFakeKratos, startTestGateway, type WhoamiFault, startStack } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

/**
 * A misbehaving Kratos never lets a request through and never turns into a 401:
 * fail closed with 503 (or 429 when Kratos rate-limits), and never cache the failure.
 */
describe('whoami fault injection: the gateway fails closed', () => {
  let upstream: Echo;
  let kratos: Kratos;
  let gw: Gateway;
  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, kratos, gw, close } = await startStack((u) => ({
      // Generous: a healthy whoami on a busy machine must not be cut (the 'recovered' request,
      // a fault answered at once); the delay and hang faults are cut at this limit.
      kratos: { public_url: u.kratos, whoami_timeout_ms: 2_000 },
      log: { access_log: false },
      routes: [
        { name: 'opt', match: { path_prefix: '/optional' }, upstream: u.upstream, auth: 'optional' },
        { name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' },
      ],
    })));
  });
  after(() => close());

  const cases: Array<[string, WhoamiFault, number]> = [
    ['slow (beyond the budget)', { kind: 'delay', ms: 5_000 }, 503],
    ['hanging', { kind: 'hang' }, 503],
    ['500', { kind: 'status', status: 500 }, 503],
    ['502', { kind: 'status', status: 502 }, 503],
    ['unexpected 404', { kind: 'status', status: 404 }, 503],
    ['garbage JSON', { kind: 'garbage' }, 503],
    ['a 3 MiB body', { kind: 'huge' }, 503],
    ['429', { kind: 'status', status: 429, headers: { 'retry-after': '7' } }, 429],
  ];

  for (const [name, fault, expected] of cases) {
    test(`Kratos ${name} → ${expected}, nothing reaches the upstream, nothing is cached`, async () => {
      const s = kratos.addSession();
      kratos.state.fault = fault;
      const before = upstream.received.length;
      for (const path of ['/x', '/optional/x']) {
        const res = await request(gw.proxyUrl + path, {
          headers: { 'x-session-token': s.token, 'x-kratos-authenticated-identity-id': 'spoof' },
        });
        const body = (await res.body.json()) as { error: { code: number } };
        assert.equal(res.statusCode, expected, path);
        assert.equal(body.error.code, expected);
        assert.ok(res.headers['retry-after'] !== undefined);
        if (expected === 429) assert.equal(res.headers['retry-after'], '7');
      }
      assert.equal(upstream.received.length, before);
      kratos.state.fault = { kind: 'normal' };
      const recovered = await request(gw.proxyUrl + '/x', { headers: { 'x-session-token': s.token } });
      await recovered.body.dump();
      assert.equal(recovered.statusCode, 200, 'the failure was not cached');
    });
  }

  test('Kratos down → 503, not 401', async () => {
    const dead = await startFakeKratos();
    const url = dead.url;
    await dead.close();
    const g2 = await startTestGateway({
      kratos: { public_url: url },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url }],
    });
    try {
      const res = await request(g2.proxyUrl + '/x', { headers: { authorization: 'Bearer abc' } });
      assert.equal(res.statusCode, 503);
      await res.body.dump();
      // Readiness does not follow Kratos by default (readiness.test.ts covers the opt-in).
      const ready = await request(g2.adminUrl + '/health/ready');
      assert.equal(ready.statusCode, 200);
      await ready.body.dump();
      const alive = await request(g2.adminUrl + '/health/alive');
      assert.equal(alive.statusCode, 200);
      await alive.body.dump();
    } finally {
      await g2.shutdown();
    }
  });
});
