/**
 * HEAD is GET without the content (RFC 9110 §9.3.2): upstreams answer it with their GET handler
 * (express, Go's ServeMux, Rails, Spring) and send the same header fields. A method list naming
 * GET therefore governs HEAD too — on the proxy and in the decision API alike — or a HEAD would
 * be judged by another, weaker route or rule while the upstream serves it as the GET this one
 * protects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, type Stack } from '../../helpers/servers.js';

describe('HEAD is judged as the GET the upstream serves it as', () => {
  let stack: Stack;
  let reader: string;

  before(async () => {
    stack = await startStack(({ upstream }) => ({
      proxy: { trusted_proxies: ['127.0.0.1/32', '::1'] },
      routes: [
        // Reading a report needs a session; anyone may post one (a webhook).
        { name: 'report-reads', match: { path_prefix: '/reports', methods: ['GET'] }, upstream },
        { name: 'reports', match: { path_prefix: '/reports' }, upstream, auth: 'anonymous' },
        // Signed-in users may read, only auditors may do anything else.
        {
          name: 'ledger',
          match: { path_prefix: '/ledger' },
          upstream,
          policy: { any: [{ methods: ['GET'] }, { path: 'identity.metadata_public.role', equals: 'auditor' }] },
        },
      ],
    }));
    reader = stack.kratos.addSession({ metadataPublic: { role: 'reader' } }).token;
  });
  after(async () => {
    await stack.close();
  });

  async function status(url: string, method: string, headers: Record<string, string> = {}) {
    const res = await request(url, { method: method as 'GET', headers: { accept: 'application/json', ...headers } });
    await res.body.dump();
    return res.statusCode;
  }

  test('proxy: a HEAD without a session is refused where a GET would be, and never reaches the upstream', async () => {
    assert.equal(await status(stack.gw.proxyUrl + '/reports/q3', 'GET'), 401);
    const before = stack.upstream.received.length;
    assert.equal(await status(stack.gw.proxyUrl + '/reports/q3', 'HEAD'), 401);
    assert.equal(stack.upstream.received.length, before, 'the HEAD reached the upstream');
    // Other methods still fall through to the anonymous route.
    assert.equal(await status(stack.gw.proxyUrl + '/reports/new', 'POST'), 200);
  });

  test('decision API: X-Original-Method HEAD is judged like GET', async () => {
    const nginx = (method: string) => ({ host: 'app.example', 'x-original-uri': '/reports/q3', 'x-original-method': method });
    assert.equal(await status(stack.gw.adminUrl + '/decisions', 'GET', nginx('GET')), 401);
    assert.equal(await status(stack.gw.adminUrl + '/decisions', 'GET', nginx('HEAD')), 401);
    // Envoy's form carries the method itself.
    assert.equal(await status(stack.gw.adminUrl + '/decisions/reports/q3', 'HEAD'), 401);
  });

  test("a policy's methods condition naming GET lets HEAD through where it lets GET through", async () => {
    const session = { 'x-session-token': reader };
    assert.equal(await status(stack.gw.proxyUrl + '/ledger/1', 'GET', session), 200);
    assert.equal(await status(stack.gw.proxyUrl + '/ledger/1', 'HEAD', session), 200);
    assert.equal(await status(stack.gw.proxyUrl + '/ledger/1', 'DELETE', session), 403);
  });
});
