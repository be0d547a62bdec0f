/**
 * An instance holds the fill lock and waits on Kratos; its connections to Redis drop
 * (a network blip on that instance only), and meanwhile a logout through another instance
 * purges the credential and its identity. The purge message never reaches the disconnected
 * instance (pub/sub does not replay), and Redis drops the lock. The instance reconnects, comes
 * up, and then Kratos's answer from before the logout lands. Redis refuses it (the lock is
 * gone), but the instance must not keep it in its own tier as if it had heard every purge:
 * it was asked while invalidations may have been missed, so it lives at most
 * degraded_ttl_cap_ms, as everything held when the store went down does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listenOnFreePort } from '../../helpers/servers.js';
import { sendSession } from './scripted-idp.js';
import { cred, instance, sharedRig, sharedSession, waitFor } from './shared-helpers.js';

const rig = sharedRig({ proxy: true });

test('an answer asked before a Redis outage and landing after it: not kept past degraded_ttl_cap_ms, not shared', async () => {
  const { redis, proxy } = rig;
  const identityId = 'outage-identity';
  const token = 'outage-token';
  // Kratos as the test scripts it: whoamis are held until released; after the logout, 401.
  const held: ServerResponse[] = [];
  let revoked = false;
  const idp = createServer((req, res) => {
    if (revoked) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":{"code":401}}');
    }
    held.push(res);
  });
  const kratosUrl = await listenOnFreePort(idp);
  const DEGRADED_MS = 300;
  const o = { kratosUrl, keyPrefix: 'kg-review-outage:', whoamiTimeoutMs: 30_000, degradedTtlCapMs: DEGRADED_MS };
  const a = await instance({ ...o, redisUrl: proxy.url });
  const b = await instance({ ...o, redisUrl: redis.url });
  try {
    const key = a.resolver.cacheKey(cred(token));
    const inFlight = a.resolver.resolve(cred(token));
    await waitFor(() => held.length === 1, "A's whoami to reach Kratos");
    assert.match(await redis.command('GET', 'kg-review-outage:s:' + key), /fill /, 'A holds the fill lock');

    // A's connections drop; the logout goes through B while A hears nothing.
    proxy.block(true);
    await waitFor(() => !a.store.up, 'A to notice Redis is gone');
    revoked = true;
    await b.resolver.purgeCredential(cred(token));
    await b.resolver.purgeIdentity(identityId);
    assert.equal(await redis.command('EXISTS', 'kg-review-outage:s:' + key), ':0\r\n', "the purge deleted A's lock");

    // A is back before Kratos's answer (from before the logout) reaches it.
    proxy.block(false);
    await waitFor(() => a.store.up, 'A to reconnect');
    sendSession(held.shift()!, identityId);
    assert.equal((await inFlight).status, 'authenticated', 'the request from before the logout takes the answer');
    assert.equal(await sharedSession(redis, 'kg-review-outage:s:' + key), undefined, 'not shared');

    // ttl_cap_ms is 10 minutes: only the degraded cap ends it within the bound below.
    await waitFor(() => a.store.get(key) === undefined, 'A to stop holding the answer asked across the outage', 20_000);
    assert.equal((await a.resolver.resolve(cred(token))).status, 'unauthenticated');
  } finally {
    for (const res of held) res.destroy();
    await a.resolver.close();
    await b.resolver.close();
    await closeServer(idp);
  }
});
