/**
 * The Kratos mount on a tenant's host sends that Kratos only its own session cookie: another
 * Kratos's session cookie (the top-level one's, or another tenant's, set on a parent domain the
 * hosts share) is a credential of a different identity provider and never reaches this one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let top: Awaited<ReturnType<typeof startFakeKratos>>;
let acme: Awaited<ReturnType<typeof startFakeKratos>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

before(async () => {
  [top, acme, upstream] = await Promise.all([startFakeKratos(), startFakeKratos(), startEchoUpstream()]);
  gw = await startTestGateway({
    kratos: { public_url: top.url, session_cookie: 'top_session' },
    kratos_instances: { acme: { public_url: acme.url, hosts: ['a.test'], session_cookie: 'acme_session' } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
  });
});
after(async () => {
  await gw.shutdown();
  await Promise.all([top.close(), acme.close(), upstream.close()]);
});

test("a tenant's mount forwards its own session cookie and no other Kratos's", async () => {
  const res = await request(gw.proxyUrl + '/.ory/kratos/public/sessions/whoami', {
    headers: { host: 'a.test', accept: 'application/json', cookie: 'top_session=top-secret; acme_session=acme-token; theme=dark' },
  });
  await res.body.dump();
  const cookie = String(acme.state.lastHeaders?.cookie ?? '');
  assert.doesNotMatch(cookie, /top-secret/, "the top-level Kratos's session cookie reached the tenant's Kratos");
  assert.match(cookie, /acme_session=acme-token/);
  assert.match(cookie, /theme=dark/);
});
