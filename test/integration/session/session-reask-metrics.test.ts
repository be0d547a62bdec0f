/**
 * Review of the resolver's re-ask after a purge (session-purge-inflight.test.ts): a request
 * that coalesced onto a whoami from before a purge asks Kratos again. When that second
 * whoami failed, the request was counted in kratos_gateway_session_cache_lookups_total twice
 * (once for the coalesced answer, once more in the error path): one lookup per request is
 * what the metric's help promises and what a hit ratio divides by.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { sendSession, startScriptedIdpGateway } from './scripted-idp.js';

const TOKEN = 'tok-reask-0123456789';
const IDENTITY = '0e4b7a51-3c1d-4f43-9f0e-8f5a2b6c7d11';

test('a re-ask that fails after a purge counts its request once in the cache lookups', async () => {
  let asked = 0;
  const { gw, status, close } = await startScriptedIdpGateway(TOKEN, {}, (req, res) => {
    asked++;
    if (asked > 1) {
      // Kratos fails for the re-ask.
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end('{"error":{"code":500}}');
    }
    setTimeout(() => {
      sendSession(res, IDENTITY);
    }, 400);
  });
  const lookups = async () => {
    const r = await request(gw.adminUrl + '/metrics');
    const text = await r.body.text();
    let sum = 0;
    for (const m of text.matchAll(/^kratos_gateway_session_cache_lookups_total\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
    return sum;
  };
  try {
    const first = status();
    while (asked === 0) await sleep(5);
    const r = await request(`${gw.adminUrl}/sessions/cache/identities/${IDENTITY}`, { method: 'DELETE' });
    await r.body.dump();
    const second = status(); // coalesces onto the whoami from before the purge, then asks again
    assert.equal(await first, 200);
    assert.equal(await second, 503);
    assert.equal(asked, 2);
    assert.equal(await lookups(), 2, 'two requests, two cache lookups');
  } finally {
    await close();
  }
});
