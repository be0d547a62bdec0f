/**
 * A protected route must select every spelling of its path that an upstream framework serves
 * with the same handler, and every method that handler answers: otherwise the catch-all
 * (authenticated, no policy) forwards the request past the route's policy. Real HTTP through
 * the gateway to an echo upstream, sessions from a fake Kratos.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startStack, type Stack } from '../../helpers/servers.js';

const ADMIN_ONLY = { path: 'identity.metadata_public.role', equals: 'admin' };

let stack: Stack;
const tokens: Record<string, string> = {};

before(async () => {
  stack = await startStack(({ upstream }) => ({
    // The decision API test speaks for a front door on loopback, whose X-Original-* are believed only from here.
    proxy: { trusted_proxies: ['127.0.0.1/32'] },
    routes: [
      { name: 'profile', match: { path_glob: '/users/*/profile' }, upstream, policy: ADMIN_ONLY },
      { name: 'admin', match: { path_prefix: '/admin' }, upstream, policy: ADMIN_ONLY },
      // A Google-style custom method: ":" is reserved, so "%3A" is a distinct spelling to RFC 3986
      // but the same character to Spring, Go and nginx, which decode before they route.
      { name: 'purge', match: { path_glob: '/v1/things:purge' }, upstream, policy: ADMIN_ONLY },
      { name: 'report', match: { path_prefix: '/report', methods: ['GET'] }, upstream, policy: ADMIN_ONLY },
      // Anyone signed in may read; only editors may write.
      {
        name: 'articles',
        match: { path_prefix: '/articles' },
        upstream,
        policy: { any: [{ methods: ['GET'] }, { path: 'identity.metadata_public.role', equals: 'editor' }] },
      },
      { name: 'everything', match: { path_prefix: '/' }, upstream },
    ],
  }));
  tokens.admin = stack.kratos.addSession({ metadataPublic: { role: 'admin' } }).token;
  tokens.user = stack.kratos.addSession({ metadataPublic: { role: 'user' } }).token;
});
after(() => stack.close());

/** One request with the path exactly as written (no client-side normalisation). */
async function send(method: string, path: string, who: string): Promise<{ status: number }> {
  const raw = await rawRequest(stack.gw.proxyUrl, [
    `${method} ${path} HTTP/1.1`,
    'Host: app.test',
    'Accept: application/json',
    `X-Session-Token: ${tokens[who]!}`,
    'Connection: close',
  ]);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]) };
}

/** The request is refused and the upstream never sees it. */
async function assertRefused(method: string, path: string, who: string, statuses: number[]): Promise<void> {
  const seen = stack.upstream.received.length;
  const r = await send(method, path, who);
  const forwarded = stack.upstream.received.slice(seen).map((x) => `${x.method} ${x.url}`);
  assert.ok(statuses.includes(r.status), `${method} ${path}: got ${r.status}, forwarded ${JSON.stringify(forwarded)}`);
  assert.deepEqual(forwarded, [], `${method} ${path} reached the upstream`);
}

describe('every spelling of a protected path selects its route or is refused', () => {
  test("glob: a non-admin gets the policy's 403 on every spelling without a trailing slash", async () => {
    for (const path of ['/users/bob/profile', '/users/bob/pr%6Ffile', '/users/./bob//profile', '/users/x/../bob/profile']) {
      await assertRefused('GET', path, 'user', [403]);
    }
  });

  // express (strict routing off, its default) serves all of these as /users/:id/profile; Go's
  // ServeMux, nginx and Fastify as another path (`/users/{id}/profile/`), which selects the
  // catch-all here. `.`, `..` and `//` resolve to the trailing-slash form in the canonicalizer.
  const glob = ['/users/bob/profile/', '/users/bob/profile/.', '/users/bob/profile/x/..', '/users/bob/profile//', '/users/bob/pr%6Ffile/'];
  for (const path of glob) {
    test(`glob: ${path}, whose trailing slash decides the route, is refused for everyone`, async () => {
      await assertRefused('GET', path, 'user', [400]);
      await assertRefused('GET', path, 'admin', [400]);
    });
  }

  test('prefix: a non-admin gets 403 on /admin/ and /admin/x/ as on /admin', async () => {
    for (const path of ['/admin', '/admin/', '/admin/x/', '/admin/.']) await assertRefused('GET', path, 'user', [403]);
  });

  // Spring, Go and nginx decode %3A before they route (the purge handler); express matches the
  // path as it arrives (not the purge handler). Refused for everyone rather than guessed.
  test('an escaped reserved character (%3A for ":") in the route\'s literal is refused, never forwarded', async () => {
    await assertRefused('POST', '/v1/things:purge', 'user', [403]);
    for (const path of ['/v1/things%3Apurge', '/v1/things%3apurge']) {
      await assertRefused('POST', path, 'user', [400]);
      await assertRefused('POST', path, 'admin', [400]);
    }
  });

  // express matches case-insensitively by default; Fastify, Spring, Go and nginx do not. A path
  // whose letter case decides between two routes is refused whichever route it would reach.
  test('a letter case that selects another route than the exact spelling is refused, never forwarded', async () => {
    for (const path of ['/USERS/bob/profile', '/Users/bob/Profile/', '/ADMIN/x', '/V1/THINGS%3APURGE']) {
      await assertRefused('GET', path, 'user', [400]);
      await assertRefused('GET', path, 'admin', [400]);
    }
  });

  test('the admin passes on every spelling, and the upstream gets the canonical path', async () => {
    const cases: Array<[string, string]> = [
      ['/users/bob/profile', '/users/bob/profile'],
      ['/users/bob/x/../profile', '/users/bob/profile'],
      ['/admin/', '/admin/'],
      ['/v1/th%69ngs:purge', '/v1/things:purge'],
      ['/users/BOB/profile', '/users/BOB/profile'],
    ];
    for (const [path, forwarded] of cases) {
      const seen = stack.upstream.received.length;
      assert.equal((await send('GET', path, 'admin')).status, 200, path);
      assert.deepEqual(
        stack.upstream.received.slice(seen).map((x) => x.url),
        [forwarded],
        path,
      );
    }
  });

  test('a path that only looks alike is not captured: /users/bob/profiles, /administrator', async () => {
    for (const path of ['/users/bob/profiles', '/administrator', '/users/bob/profile/x']) {
      assert.equal((await send('GET', path, 'user')).status, 200, path);
    }
  });
});

describe('HEAD is GET', () => {
  test('a route that matches GET matches HEAD: a non-admin HEAD /report/x gets 403 like GET', async () => {
    await assertRefused('GET', '/report/x', 'user', [403]);
    await assertRefused('HEAD', '/report/x', 'user', [403]);
    assert.equal((await send('HEAD', '/report/x', 'admin')).status, 200);
    assert.equal((await send('POST', '/report/x', 'user')).status, 200, 'the route lists GET only: POST falls through');
  });

  test('a policy that allows GET allows HEAD, and refuses what it refuses for GET', async () => {
    assert.equal((await send('GET', '/articles/1', 'user')).status, 200);
    assert.equal((await send('HEAD', '/articles/1', 'user')).status, 200);
    await assertRefused('DELETE', '/articles/1', 'user', [403]);
  });

  test('the decision API matches HEAD like GET and spellings like the proxy', async () => {
    const decide = async (method: string, uri: string) => {
      const raw = await rawRequest(stack.gw.adminUrl, [
        'GET /decisions HTTP/1.1',
        'Host: app.test',
        'Accept: application/json',
        `X-Original-URI: ${uri}`,
        `X-Original-Method: ${method}`,
        `X-Session-Token: ${tokens.user!}`,
        'Connection: close',
      ]);
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
    };
    assert.equal(await decide('HEAD', '/report/x'), 403);
    assert.equal(await decide('GET', '/users/bob/profile'), 403);
    assert.equal(await decide('GET', '/users/bob/profile/'), 400, 'its trailing slash decides the route');
    assert.equal(await decide('GET', '/v1/things:purge'), 403);
    assert.equal(await decide('GET', '/v1/things%3Apurge'), 400, 'an escape express would not decode');
    assert.equal(await decide('GET', '/users/bob/profiles'), 200);
  });
});
