/**
 * The decision API knows the original method only from the header that names it:
 * `X-Original-Method` (nginx, whose auth_request subrequest is always a GET) or
 * `X-Forwarded-Method` (Traefik, whose ForwardAuth request is always a GET). Without it, the
 * gateway must not guess: where the answer could differ by method — a route with a method list
 * that could match the host and path, or a route policy with a `methods` condition — it answers
 * 400 naming the missing header; elsewhere it decides as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';

type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const UPSTREAM = 'http://127.0.0.1:9';

async function decide(gw: Gateway, path: string, headers: Record<string, string> | string[], method = 'GET') {
  // A flat list sends a header name more than once, as written.
  const all = Array.isArray(headers) ? ['accept', 'application/json', ...headers] : { accept: 'application/json', ...headers };
  const res = await request(gw.adminUrl + path, { method: method as 'GET', headers: all });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

describe('decision API without the original method', () => {
  let kratos: Kratos;
  let gw: Gateway;
  let outsider: string;

  before(async () => {
    kratos = await startFakeKratos();
    outsider = kratos.addSession({ metadataPublic: { role: 'user' } }).token;
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      proxy: { trusted_proxies: ['127.0.0.1/32', '::1'] },
      routes: [
        // Anyone may read the orders; writing them needs a session (a method-specific route
        // overlapping a catch-all on the same path).
        {
          name: 'order-writes',
          match: { host: 'app.example', path_prefix: '/orders', methods: ['POST', 'PUT', 'DELETE'] },
          upstream: UPSTREAM,
        },
        { name: 'orders', match: { host: 'app.example', path_prefix: '/orders' }, upstream: UPSTREAM, auth: 'anonymous' },
        // Only GET is routed at all.
        { name: 'feed', match: { host: 'app.example', path_prefix: '/feed', methods: ['GET'] }, upstream: UPSTREAM, auth: 'anonymous' },
        // Signed-in users read; only editors write (a `methods` condition deep in the policy).
        {
          name: 'articles',
          match: { host: 'app.example', path_prefix: '/articles' },
          upstream: UPSTREAM,
          policy: { all: [{ any: [{ methods: ['GET', 'HEAD'] }, { path: 'identity.metadata_public.role', equals: 'editor' }] }] },
        },
        // A method list on another host: cannot match app.example.
        { name: 'other-host', match: { host: 'other.example', path_prefix: '/plain', methods: ['DELETE'] }, upstream: UPSTREAM },
        { name: 'plain', match: { host: 'app.example', path_prefix: '/plain' }, upstream: UPSTREAM, auth: 'anonymous' },
        // A more specific method-less route shadows the method-specific one below it for /docs/public/….
        { name: 'docs-public', match: { host: 'app.example', path_prefix: '/docs/public' }, upstream: UPSTREAM, auth: 'anonymous' },
        { name: 'docs-writes', match: { host: 'app.example', path_prefix: '/docs', methods: ['POST'] }, upstream: UPSTREAM },
        { name: 'docs', match: { host: 'app.example', path_prefix: '/docs' }, upstream: UPSTREAM, auth: 'anonymous' },
        // Signed-in users read and comment; only moderators change or delete comments.
        {
          name: 'comments',
          match: { host: 'app.example', path_prefix: '/comments' },
          upstream: UPSTREAM,
          policy: { any: [{ methods: ['GET', 'HEAD', 'POST'] }, { path: 'identity.metadata_public.role', equals: 'moderator' }] },
        },
      ],
    });
  });
  after(async () => {
    await gw.shutdown();
    await kratos.close();
  });

  const nginx = (uri: string, extra: Record<string, string> = {}) => ({ host: 'app.example', 'x-original-uri': uri, ...extra });
  const traefik = (uri: string, extra: Record<string, string> = {}) => ({
    'x-forwarded-host': 'app.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-uri': uri,
    ...extra,
  });

  test('nginx: a method-specific route overlapping a catch-all is refused with 400 naming X-Original-Method', async () => {
    const res = await decide(gw, '/decisions', nginx('/orders/1'));
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /X-Original-Method/);
    // With the header, each method gets its own route.
    assert.equal((await decide(gw, '/decisions', nginx('/orders/1', { 'x-original-method': 'POST' }))).status, 401);
    assert.equal((await decide(gw, '/decisions', nginx('/orders/1', { 'x-original-method': 'GET' }))).status, 200);
  });

  test('nginx: a GET-only route is refused with 400 when the method is unknown (a POST would get no route)', async () => {
    const res = await decide(gw, '/decisions', nginx('/feed'));
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /X-Original-Method/);
    assert.equal((await decide(gw, '/decisions', nginx('/feed', { 'x-original-method': 'POST' }))).status, 403);
  });

  test('nginx: an empty X-Original-Method is as unknown as a missing one', async () => {
    const res = await decide(gw, '/decisions', nginx('/orders/1', { 'x-original-method': '' }));
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /X-Original-Method/);
  });

  test('nginx: a route whose policy has a methods condition is refused with 400', async () => {
    const res = await decide(gw, '/decisions', nginx('/articles/1', { 'x-session-token': outsider }));
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /X-Original-Method/);
    const write = await decide(gw, '/decisions', nginx('/articles/1', { 'x-session-token': outsider, 'x-original-method': 'POST' }));
    assert.equal(write.status, 403);
  });

  test('nginx: where the method cannot change the answer, the decision is made as before', async () => {
    // A method list on another host does not make /plain on app.example depend on the method.
    assert.equal((await decide(gw, '/decisions', nginx('/plain/x'))).status, 200);
    // docs-public is chosen whatever the method: docs-writes can never be reached for this path.
    assert.equal((await decide(gw, '/decisions', nginx('/docs/public/x'))).status, 200);
    // No route can match, whatever the method.
    assert.equal((await decide(gw, '/decisions', { host: 'nowhere.example', 'x-original-uri': '/x' })).status, 403);
    // But under /docs, docs-writes and docs compete.
    assert.equal((await decide(gw, '/decisions', nginx('/docs/x'))).status, 400);
  });

  test("Traefik: without X-Forwarded-Method the decision request's own method (always GET) is not used", async () => {
    const res = await decide(gw, '/decisions', traefik('/orders/1'));
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /X-Forwarded-Method/);
    assert.equal((await decide(gw, '/decisions', traefik('/orders/1', { 'x-forwarded-method': 'POST' }))).status, 401);
    assert.equal((await decide(gw, '/decisions', traefik('/plain/x'))).status, 200);
  });

  test('Envoy: the decision request carries the original method itself', async () => {
    const headers = { host: 'app.example' };
    assert.equal((await decide(gw, '/decisions/orders/1', headers, 'POST')).status, 401);
    assert.equal((await decide(gw, '/decisions/orders/1', headers, 'GET')).status, 200);
    assert.equal((await decide(gw, '/decisions/feed', headers, 'DELETE')).status, 403);
  });

  test('a method header that is not one upper-case method is refused with 400, never folded or read in part', async () => {
    // Methods are case-sensitive: an upstream that folds case serves `post` as POST, one that
    // does not serves another method; a repeated header arrives as a list naming two.
    const cases: Array<[string, string[]]> = [
      ['lower case', ['host', 'app.example', 'x-original-uri', '/orders/1', 'x-original-method', 'post']],
      ['repeated', ['host', 'app.example', 'x-original-uri', '/orders/1', 'x-original-method', 'POST', 'x-original-method', 'GET']],
      ['a list', ['host', 'app.example', 'x-original-uri', '/orders/1', 'x-original-method', 'POST, GET']],
      ['inner space', ['host', 'app.example', 'x-original-uri', '/orders/1', 'x-original-method', 'PO ST']],
      // Traefik passes on the method exactly as the client sent it.
      [
        'Traefik, lower case',
        ['x-forwarded-host', 'app.example', 'x-forwarded-proto', 'https', 'x-forwarded-uri', '/feed', 'x-forwarded-method', 'get'],
      ],
      // Even where the method cannot change the answer: the header is malformed.
      ['lower case, method-independent route', ['host', 'app.example', 'x-original-uri', '/plain/x', 'x-original-method', 'get']],
    ];
    for (const [name, headers] of cases) {
      const res = await decide(gw, '/decisions', headers);
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.match(res.text, /X-(Original|Forwarded)-Method/, name);
    }
    // Methods outside the usual set are still methods, judged as sent.
    assert.equal((await decide(gw, '/decisions', nginx('/orders/1', { 'x-original-method': 'PROPFIND' }))).status, 200);
    assert.equal((await decide(gw, '/decisions', nginx('/orders/1', { 'x-original-method': 'M-SEARCH' }))).status, 200);
  });

  test('a method-override header on a route whose answer depends on the method is refused with 400', async () => {
    // The proxy passes the header on to the upstream, where express method-override, Rack and
    // Symfony serve the POST as the method it names: a user may comment
    // (POST), but a POST that the upstream serves as DELETE must not be judged as a POST.
    for (const header of ['x-http-method-override', 'X-HTTP-Method', 'x-method-override', 'X_HTTP_Method_Override']) {
      const res = await decide(
        gw,
        '/decisions',
        nginx('/comments/7', { 'x-session-token': outsider, 'x-original-method': 'POST', [header]: 'DELETE' }),
      );
      assert.equal(res.status, 400, `${header}: ${res.text}`);
      assert.match(res.text, new RegExp(header, 'i'));
    }
    const plain = await decide(gw, '/decisions', nginx('/comments/7', { 'x-session-token': outsider, 'x-original-method': 'POST' }));
    assert.equal(plain.status, 200, plain.text);
    // Envoy's form: the same.
    const envoy = await decide(
      gw,
      '/decisions/comments/7',
      { host: 'app.example', 'x-session-token': outsider, 'x-http-method-override': 'PUT' },
      'POST',
    );
    assert.equal(envoy.status, 400, envoy.text);
    // Where the answer is the same for every method, the header cannot change it.
    const anyMethod = await decide(
      gw,
      '/decisions',
      nginx('/plain/x', { 'x-original-method': 'POST', 'x-http-method-override': 'DELETE' }),
    );
    assert.equal(anyMethod.status, 200, anyMethod.text);
  });
});
