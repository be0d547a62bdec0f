/**
 * Review: the Kratos mount looks up every `session_token` in a request body before
 * forwarding it (to purge the sessions Kratos is about to revoke), trying each under every
 * non-cookie credential source, one whoami at a time. One anonymous 64 KiB form with
 * hundreds of distinct `session_token` fields made hundreds of whoami calls to Kratos and
 * held the request until they were all answered: a cheap amplification against Kratos.
 * Kratos reads one session token from a body; a body naming several different ones is
 * ambiguous and is refused (400) before any lookup.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, type Stack } from '../../helpers/servers.js';

let stack: Stack;

before(async () => {
  stack = await startStack((u) => ({
    routes: [{ name: 'open', match: { path_prefix: '/open' }, upstream: u.upstream, auth: 'anonymous' }],
  }));
});
after(() => stack.close());

const LOGOUT = '/.ory/kratos/public/self-service/logout/api';

test('a body with many distinct session_token fields costs no whoami calls: 400', async () => {
  const form = Array.from({ length: 500 }, (_, i) => `session_token=tok-${i}-0123456789abcdef`).join('&');
  const calls = stack.kratos.state.calls;
  const r = await request(stack.gw.proxyUrl + LOGOUT, {
    method: 'DELETE',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  await r.body.dump();
  assert.equal(stack.kratos.state.calls - calls, 0, 'whoami calls made for one request');
  assert.equal(r.statusCode, 400);
});

test('JSON with two spellings of session_token naming different tokens is refused too', async () => {
  const calls = stack.kratos.state.calls;
  const r = await request(stack.gw.proxyUrl + LOGOUT, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: '{"session_token":"tok-a-0123456789","SESSION_TOKEN":"tok-b-0123456789"}',
  });
  await r.body.dump();
  assert.equal(r.statusCode, 400);
  assert.equal(stack.kratos.state.calls - calls, 0);
});

test('one session_token in the body is still looked up (to purge it) and forwarded', async () => {
  const { token } = stack.kratos.addSession();
  const calls = stack.kratos.state.calls;
  const r = await request(stack.gw.proxyUrl + LOGOUT, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ session_token: token }),
  });
  await r.body.dump();
  assert.notEqual(r.statusCode, 400);
  assert.ok(stack.kratos.state.calls - calls >= 1, 'the body token was looked up');
});
