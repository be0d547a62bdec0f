/**
 * session_cache.revalidate_after_ms: a cached session older than that is still served at once,
 * while one background whoami checks it again; a revocation made at Kratos directly (no
 * gateway involved, no purge) is then seen within revalidate_after_ms plus one whoami.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startFakeKratos, startTestGateway, startStack } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

async function get(gw: Gateway, token: string): Promise<number> {
  const res = await request(gw.proxyUrl + '/x', { headers: { 'x-session-token': token } });
  await res.body.dump();
  return res.statusCode;
}

async function revalidations(gw: Gateway): Promise<Record<string, number>> {
  const text = await (await request(gw.adminUrl + '/metrics')).body.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^kratos_gateway_session_revalidations_total\{outcome="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Polls `check` for up to 30 s: a bound on how long the test waits, not on how fast the gateway is. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

describe('session_cache.revalidate_after_ms', () => {
  let kratos: Kratos;
  let gw: Gateway;
  let close: () => Promise<void>;
  // Long enough that the requests a test expects while an entry is young fit in it on a busy machine.
  const REVALIDATE_MS = 3_000;

  before(async () => {
    ({ kratos, gw, close } = await startStack((u) => ({
      session_cache: { ttl_cap_ms: 60_000, revalidate_after_ms: REVALIDATE_MS },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' }],
    })));
  });
  after(() => close());

  test('a young entry is a plain hit: no whoami until revalidate_after_ms has passed', async () => {
    const s = kratos.addSession();
    const calls = kratos.state.calls;
    for (let i = 0; i < 10; i++) assert.equal(await get(gw, s.token), 200);
    assert.equal(kratos.state.calls - calls, 1);
  });

  test('an old entry is served at once and re-checked once in the background, however many requests use it', async () => {
    const s = kratos.addSession();
    assert.equal(await get(gw, s.token), 200);
    const calls = kratos.state.calls;
    const before = await revalidations(gw);
    await sleep(REVALIDATE_MS + 50);
    // Kratos answers slowly now: the requests are still served from the entry, without waiting.
    kratos.state.fault = { kind: 'delay', ms: 100 };
    try {
      const statuses = await Promise.all(Array.from({ length: 50 }, () => get(gw, s.token)));
      assert.deepEqual(new Set(statuses), new Set([200]));
      assert.ok(await eventually(async () => kratos.state.calls - calls === 1), 'one background whoami');
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
    // The re-check answered (counted once its answer is kept): the entry is young again (its age
    // counts from when it was asked).
    assert.ok(await eventually(async () => ((await revalidations(gw)).active ?? 0) > (before.active ?? 0)), 'the re-check answered');
    for (let i = 0; i < 10; i++) assert.equal(await get(gw, s.token), 200);
    assert.equal(kratos.state.calls - calls, 1, 'the renewed entry serves without another whoami');
  });

  test('a session revoked at Kratos (no gateway involved) is rejected within revalidate_after_ms plus one whoami', async () => {
    const s = kratos.addSession();
    assert.equal(await get(gw, s.token), 200);
    const before = await revalidations(gw);
    kratos.sessions.delete(s.token); // revoked at Kratos: nobody purges the gateway
    const revokedAt = Date.now();
    assert.equal(await get(gw, s.token), 200, 'still cached: the entry is young');
    const rejected = await eventually(async () => (await get(gw, s.token)) === 401);
    assert.ok(rejected, 'rejected once re-checked');
    // Far below ttl_cap_ms (60 s), which is when it would be rejected without the re-check.
    assert.ok(Date.now() - revokedAt < REVALIDATE_MS + 20_000, `rejected ${Date.now() - revokedAt} ms after the revocation`);
    const afterwards = await revalidations(gw);
    assert.equal((afterwards.revoked ?? 0) - (before.revoked ?? 0), 1);
  });

  test('Kratos unreachable during a re-check: the entry keeps serving (bounded by ttl_cap_ms) and is asked again later', async () => {
    const s = kratos.addSession();
    assert.equal(await get(gw, s.token), 200);
    await sleep(REVALIDATE_MS + 50);
    const before = await revalidations(gw);
    kratos.state.fault = { kind: 'status', status: 503 };
    try {
      assert.equal(await get(gw, s.token), 200);
      assert.ok(
        await eventually(async () => ((await revalidations(gw)).error ?? 0) > (before.error ?? 0)),
        'the failed re-check is counted',
      );
      assert.equal(await get(gw, s.token), 200, 'a failed re-check does not drop the session');
    } finally {
      kratos.state.fault = { kind: 'normal' };
    }
    const calls = kratos.state.calls;
    await sleep(REVALIDATE_MS + 50);
    assert.equal(await get(gw, s.token), 200);
    assert.ok(
      await eventually(async () => ((await revalidations(gw)).active ?? 0) > (before.active ?? 0)),
      'asked again after revalidate_after_ms',
    );
    assert.equal(kratos.state.calls - calls, 1);
  });
});
