/**
 * The path to Redis goes silent without closing (no FIN, no RST: a failover that moved
 * an address, a dropped conntrack entry). The heartbeat notices; the store must then reconnect
 * rather than wait on the dead sockets until the kernel gives up on them (many minutes, with
 * fan-out to and from this instance lost meanwhile).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cred, instance, waitFor, sharedRig } from './shared-helpers.js';

const rig = sharedRig({ proxy: true });

test('connections to Redis frozen open: the heartbeat marks the store down, then it reconnects and fan-out works again', async () => {
  const { redis, kratos, proxy } = rig;
  const o = { kratosUrl: kratos.url, keyPrefix: 'kg-review-silent:', timeoutMs: 100, degradedTtlCapMs: 300, store: { heartbeatMs: 200 } };
  const a = await instance({ ...o, redisUrl: proxy.url });
  const b = await instance({ ...o, redisUrl: redis.url });
  try {
    const s = kratos.addSession();
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    proxy.freeze();
    await waitFor(() => !a.store.up, 'the heartbeat to notice the silent path');
    await waitFor(() => a.store.up, 'the store to reconnect over a new connection');
    // Fan-out reaches A again.
    assert.equal((await a.resolver.resolve(cred(s.token))).status, 'authenticated');
    await b.resolver.purgeIdentity(s.identityId);
    await waitFor(() => a.store.get(a.resolver.cacheKey(cred(s.token))) === undefined, 'the purge from B to reach A');
  } finally {
    await a.resolver.close();
    await b.resolver.close();
  }
});
