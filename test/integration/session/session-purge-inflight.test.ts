/**
 * Review of the session cache's in-flight purge handling. A whoami answer from before a purge
 * must not be handed to a request that arrives after the purge, even when that request
 * coalesces onto the whoami already in flight. The IdP here decides its answer when the
 * question arrives and sends it late, as a slow Kratos does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { sendSession, startScriptedIdpGateway } from './scripted-idp.js';

const TOKEN = 'tok-inflight-0123456789';
const IDENTITY = '5b0c6f3e-6d36-4a5b-9a54-3f1f7c0f4e11';

for (const purgeBy of ['identity', 'credential'] as const) {
  test(`a request arriving after a purge (by ${purgeBy}) is not answered from a whoami that began before it`, async () => {
    let active = true;
    let asked = 0;
    const { gw, status, close } = await startScriptedIdpGateway(TOKEN, { session_cache: { ttl_cap_ms: 600_000 } }, (req, res) => {
      asked++;
      const wasActive = active; // Kratos's answer as of when the question arrived
      setTimeout(() => {
        if (!wasActive || req.headers['x-session-token'] !== TOKEN) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end('{"error":{"code":401}}');
        }
        sendSession(res, IDENTITY);
      }, 400);
    });
    try {
      const before = status();
      while (asked === 0) await sleep(5);
      // Revoked at the IdP, then purged at the gateway, while the first whoami is still out.
      active = false;
      if (purgeBy === 'identity') {
        const r = await request(`${gw.adminUrl}/sessions/cache/identities/${IDENTITY}`, { method: 'DELETE' });
        await r.body.dump();
      } else {
        gw.core.resolver.purgeIdentityOf({ source: gw.core.snapshot.credentialSources[0]!, value: TOKEN });
      }
      const afterPurge = status();
      assert.equal(await before, 200, 'the request from before the purge is answered as Kratos answered it');
      assert.equal(await afterPurge, 401, 'the request from after the purge is judged by an answer from after it');
    } finally {
      await close();
    }
  });
}
