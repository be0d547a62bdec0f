/**
 * An unknown /ui address through the running gateway: browsers get an HTML page with a way
 * on, everything else keeps the control plane's JSON 404.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

before(async () => {
  kratos = await startFakeKratos();
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    ui: { enabled: true },
    log: { access_log: false },
    routes: [{ name: 'app', match: { path_prefix: '/app' }, upstream: 'http://127.0.0.1:9' }],
  });
});

after(async () => {
  await gw.shutdown();
  await kratos.close();
});

test('a browser navigation to /ui/<unknown> gets an HTML 404 page with the UI headers', async () => {
  const res = await request(gw.proxyUrl + '/ui/sign-in', {
    headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
  });
  const body = await res.body.text();
  assert.equal(res.statusCode, 404);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.match(String(res.headers['content-security-policy']), /script-src 'none'/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.ok(body.startsWith('<!doctype html>'));
  assert.match(body, /<h1>Page not found<\/h1>/);
  assert.match(body, /href="[^"]*\/self-service\/login\/browser">Sign in<\/a>/);
  assert.ok(!body.includes('"error"'), 'no JSON in the page');
});

test('API clients and scripts keep the JSON 404', async () => {
  for (const accept of ['application/json', '*/*', undefined]) {
    const res = await request(gw.proxyUrl + '/ui/sign-in', { headers: accept === undefined ? {} : { accept } });
    const body = (await res.body.json()) as { error: { code: number } };
    assert.equal(res.statusCode, 404, String(accept));
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(body.error.code, 404);
  }
});

test('known pages are unaffected', async () => {
  const res = await request(gw.proxyUrl + '/ui/style.css', { headers: { accept: 'text/html' } });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
});
