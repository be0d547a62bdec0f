/**
 * DELETE /sessions/cache/credential on the admin listener: drops the cached answer for the
 * credential the caller sends (as a client would send it), and only that one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let close: () => Promise<void>;

before(async () => {
  ({ kratos, gw, close } = await startStack((u) => ({
    session_cache: { ttl_cap_ms: 60_000 },
    log: { access_log: false },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required' }],
  })));
});
after(() => close());

const get = async (headers: Record<string, string>) => (await fetch(gw.proxyUrl + '/x', { headers })).status;
const purge = (headers: Record<string, string>) => fetch(gw.adminUrl + '/sessions/cache/credential', { method: 'DELETE', headers });

test('purges the credential sent, whichever spelling clients used it under, and leaves the identity’s other sessions cached', async () => {
  const first = kratos.addSession();
  const second = kratos.addSession({ identityId: first.identityId });
  assert.equal(await get({ 'x-session-token': first.token }), 200);
  assert.equal(await get({ authorization: `Bearer ${second.token}` }), 200);
  kratos.sessions.get(first.token)!.active = false; // revoked at Kratos: the gateway still has it
  assert.equal(await get({ 'x-session-token': first.token }), 200, 'still cached before the purge');

  const res = await purge({ cookie: `ory_kratos_session=${first.token}` });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { purged: 1 });
  assert.equal(await get({ 'x-session-token': first.token }), 401, 'asked again: revoked');
  const calls = kratos.state.calls;
  assert.equal(await get({ authorization: `Bearer ${second.token}` }), 200);
  assert.equal(kratos.state.calls, calls, 'the other session of the identity is still a cache hit');
});

test('without a credential: 400 with a message, nothing purged', async () => {
  const res = await purge({});
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: { message: string } };
  assert.match(body.error.message, /X-Session-Token/);
});
