/**
 * The purge record (store/purge-log.ts) remembers 10,000 identities; past that it no longer
 * knows when an older one was purged. A caller that arrived after a revocation's purge and
 * joined a whoami asked before it must then still be judged by an answer from after the purge:
 * a flood of other identities' purges (logouts across the fleet, anyone with many accounts)
 * must not make the record say "that caller came before the purge" and hand it the pre-revocation
 * answer. Driven step by step: the IdP holds its answer until the test releases it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { sendSession, startScriptedIdpGateway } from './scripted-idp.js';

const TOKEN = 'tok-flood-0123456789';
const IDENTITY = '0d9a4f7e-2c61-4f0b-8f5e-6a1b2c3d4e5f';
/** More identities than the record remembers. */
const FLOOD = 10_001;

test('a flood of identity purges does not hand a caller after a revocation the answer from before it', async () => {
  let active = true;
  const held: Array<() => void> = [];
  const asked = new EventEmitter();
  const { gw, close } = await startScriptedIdpGateway(TOKEN, { session_cache: { ttl_cap_ms: 600_000 } }, (req, res) => {
    const wasActive = active; // Kratos's answer as of when the question arrived
    const answer = (r: ServerResponse) => {
      if (!wasActive || req.headers['x-session-token'] !== TOKEN) {
        r.writeHead(401, { 'content-type': 'application/json' });
        return r.end('{"error":{"code":401}}');
      }
      sendSession(r, IDENTITY);
    };
    if (wasActive) held.push(() => answer(res));
    else answer(res);
    asked.emit('asked');
  });
  try {
    const resolver = gw.core.resolver;
    const credential = { source: gw.core.snapshot.credentialSources[0]!, value: TOKEN };
    const asking = once(asked, 'asked');
    const before = resolver.resolve(credential);
    await asking; // the whoami is at the IdP, held
    // Revoked at the IdP, then purged at the gateway while that whoami is out.
    active = false;
    await resolver.purgeIdentity(IDENTITY);
    // A request after the purge: it joins the whoami in flight.
    const afterPurge = resolver.resolve(credential);
    // Other identities purged meanwhile, more than the record remembers.
    for (let i = 0; i < FLOOD; i++) await resolver.purgeIdentity(`flood-${i}`);
    for (const release of held.splice(0)) release();
    assert.equal((await before).status, 'authenticated', 'the request from before the purge takes the answer as Kratos gave it');
    assert.equal((await afterPurge).status, 'unauthenticated', 'the request from after the purge is judged by an answer from after it');
  } finally {
    await close();
  }
});
