/**
 * Review: what the gateway matches must be what the upstream serves. A protected prefix
 * (`/admin`, required) next to a public catch-all (`/`, anonymous) is the common layout.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, startEchoUpstream, startTestGateway, startStack } from '../../helpers/servers.js';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let close: () => Promise<void>;

before(async () => {
  ({ upstream, gw, close } = await startStack((u) => ({
    routes: [
      { name: 'admin', match: { path_prefix: '/admin' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'json' },
      { name: 'public', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'anonymous' },
    ],
  })));
});
after(() => close());

async function get(path: string, extra: string[] = []): Promise<{ status: number; raw: string }> {
  const raw = await rawRequest(gw.proxyUrl, [
    `GET ${path} HTTP/1.1`,
    'Host: app.test',
    'Accept: application/json',
    'Connection: close',
    ...extra,
  ]);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]), raw };
}

test('control: /admin without a credential is 401', async () => {
  assert.equal((await get('/admin/users')).status, 401);
});

// Tomcat, Jetty, Spring and many Java stacks drop `;params` from each segment before routing:
// `/admin;x/users` is `/admin/users` to them. The canonicalizer rejects only `..;x`.
for (const path of ['/admin;x/users', '/admin;jsessionid=1', '/admin;/users']) {
  test(`a path parameter on a protected segment (${path}) is refused or authenticated, never forwarded anonymously`, async () => {
    const before = upstream.received.length;
    const { status } = await get(path);
    assert.ok(
      status === 400 || status === 401,
      `got ${status}; upstream received ${JSON.stringify(upstream.received.slice(before).map((r) => r.url))}`,
    );
    assert.equal(upstream.received.length, before, 'the request reached the upstream on the anonymous route');
  });
}

// Symfony/Laminas/IIS (X-Original-URL, X-Rewrite-URL) route on these instead of the request line:
// matched as `/` (anonymous), served as `/admin`.
for (const header of ['X-Original-URL', 'X-Rewrite-URL']) {
  test(`a client ${header} never reaches the upstream`, async () => {
    const { status } = await get('/', [`${header}: /admin/users`]);
    assert.equal(status, 200);
    const seen = upstream.received.at(-1)!.headers;
    assert.equal(seen[header.toLowerCase()], undefined, `${header} was forwarded: ${seen[header.toLowerCase()]}`);
  });
}

// Many frameworks (Rails Rack::MethodOverride, Express method-override, Spring
// HiddenHttpMethodFilter, ASP.NET) let these override the method the route table matched on.
for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
  test(`a client ${header} never reaches the upstream`, async () => {
    const { status } = await get('/', [`${header}: DELETE`]);
    assert.equal(status, 200);
    const seen = upstream.received.at(-1)!.headers;
    assert.equal(seen[header.toLowerCase()], undefined, `${header} was forwarded`);
  });
}
