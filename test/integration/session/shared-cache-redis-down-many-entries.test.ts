/**
 * Redis going away under a gateway process whose in-process cache holds more than one
 * entry. The degraded cap is applied to every entry at that moment; the gateway must go on
 * answering (cached sessions, new credentials) without waiting on Redis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';
import { startRedis } from '../../helpers/redis.js';
import { spawnGateway } from '../../helpers/process.js';

// Bounds on how long this test waits, not on how fast the gateway must be: the defect this guards
// against hung the event loop for good, so a healthy answer on a busy machine must never be cut.
const WAIT_MS = 30_000;

async function get(url: string, token: string): Promise<number> {
  const res = await fetch(url, { headers: { 'x-session-token': token }, signal: AbortSignal.timeout(WAIT_MS) });
  await res.arrayBuffer();
  return res.status;
}

async function metrics(adminUrl: string): Promise<string> {
  return (await fetch(adminUrl + '/metrics', { signal: AbortSignal.timeout(WAIT_MS) })).text();
}

test('Redis killed while the gateway caches several sessions: it keeps answering (no event-loop stall), entries capped', async () => {
  const redis = await startRedis();
  const kratos = await startFakeKratos();
  const upstream = await startEchoUpstream();
  const [proxy, admin] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'kg-review-down-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `proxy: { listen: { port: ${proxy} } }
admin: { listen: { port: ${admin} } }
kratos: { public_url: "${kratos.url}" }
ui: { enabled: false }
log: { access_log: false }
session_cache: { shared: { redis_url: "${redis.url}", key_prefix: "kg-review-down:", timeout_ms: 100, degraded_ttl_cap_ms: 300 } }
routes:
  - { name: app, match: { path_prefix: / }, upstream: "${upstream.url}", auth: required, on_unauthenticated: json }
`,
  );
  const gw = spawnGateway(['--config', file]);
  const proxyUrl = `http://127.0.0.1:${proxy}/x`;
  const adminUrl = `http://127.0.0.1:${admin}`;
  try {
    await gw.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 30_000);
    for (let i = 0; i < 600 && !/kratos_gateway_shared_cache_up 1/.test(await metrics(adminUrl)); i++) await sleep(50);
    assert.match(await metrics(adminUrl), /kratos_gateway_shared_cache_up 1/);
    const sessions = [kratos.addSession(), kratos.addSession(), kratos.addSession()];
    for (const s of sessions) assert.equal(await get(proxyUrl, s.token), 200);
    assert.equal(await get(proxyUrl, 'not-a-session-1'), 401);
    assert.equal(await get(proxyUrl, 'not-a-session-2'), 401);

    await redis.stop();
    // The process notices (connection closed) and caps what it holds; then it must still answer.
    for (let i = 0; i < 600 && !/kratos_gateway_shared_cache_up 0/.test(await metrics(adminUrl)); i++) await sleep(50);
    assert.match(await metrics(adminUrl), /kratos_gateway_shared_cache_up 0/);
    const fresh = kratos.addSession();
    assert.equal(await get(proxyUrl, fresh.token), 200, 'a new credential is answered by Kratos');
    // Capped at degraded_ttl_cap_ms: after it, a cached session is asked again.
    const calls = kratos.state.calls;
    await sleep(400);
    assert.equal(await get(proxyUrl, sessions[0]!.token), 200);
    assert.equal(kratos.state.calls - calls, 1, 'the cached entry was capped');
  } finally {
    gw.child.kill('SIGTERM');
    const exited = await Promise.race([gw.exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!exited) {
      gw.child.kill('SIGKILL');
      await gw.exited;
    }
    await redis.close();
    await kratos.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
