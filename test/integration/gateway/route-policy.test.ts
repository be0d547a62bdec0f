/**
 * Route policies over real HTTP — the gateway in front of an echo upstream and a
 * fake Kratos whose sessions carry traits, metadata_public, verified addresses, a schema id,
 * an AAL and authenticated_at. The same policies answer the proxy, WebSocket handshakes and
 * the decision API; a reload applies a changed policy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { startGateway } from '../../../src/start-gateway.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { memoryLogger, startStack, type FakeSession, type Stack } from '../../helpers/servers.js';

const BROWSER = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' };
const LOGIN = 'http://127.0.0.1:4455/.ory/kratos/public/self-service/login/browser';

function routes(upstream: string) {
  const r = (name: string, path: string, policy: unknown) => ({ name, match: { path_prefix: path }, upstream, policy });
  return [
    r('admin', '/admin', { all: [{ path: 'identity.metadata_public.role', equals: 'admin' }, { aal: 'aal2' }] }),
    r('staff', '/staff', { path: 'identity.traits.email', matches: '@example\\.com$' }),
    r('team', '/team', { path: 'identity.metadata_public.role', one_of: ['admin', 'editor'] }),
    r('verified', '/verified', { verified_address: 'identity.traits.email' }),
    r('employees', '/employees', { schema_id: ['employee'] }),
    r('sensitive', '/sensitive', { authenticated_within: '5m' }),
    r('either', '/either', { any: [{ schema_id: 'employee' }, { path: 'identity.traits.email', ends_with: '@partner.example' }] }),
    // Per-method: anyone signed in may read, only editors may write.
    r('articles', '/articles', { any: [{ methods: ['GET', 'HEAD'] }, { path: 'identity.metadata_public.role', equals: 'editor' }] }),
    { ...r('maybe', '/maybe', { path: 'identity.metadata_public.role', equals: 'admin' }), auth: 'optional' },
  ];
}

type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

async function get(url: string, headers: Record<string, string>, method = 'GET'): Promise<Res> {
  const res = await request(url, { method: method as 'GET', headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function errorOf(r: Res): { id?: string; code: number; status: string; reason?: string; message: string } {
  assert.match(String(r.headers['content-type']), /application\/json/);
  return (JSON.parse(r.body) as { error: { id?: string; code: number; status: string; reason?: string; message: string } }).error;
}

describe('route policies', () => {
  let stack: Stack;
  let proxy: string;
  const tokens: Record<string, string> = {};
  const api = (who: string) => ({ 'x-session-token': tokens[who]! });
  const browser = (who: string) => ({ ...BROWSER, cookie: `ory_kratos_session=${tokens[who]!}` });

  before(async () => {
    stack = await startStack(({ upstream }) => ({ routes: routes(upstream) }));
    proxy = stack.gw.proxyUrl;
    const people: Record<string, Partial<FakeSession>> = {
      admin2: { traits: { email: 'root@example.com' }, metadataPublic: { role: 'admin' }, aal: 'aal2' },
      admin1: { traits: { email: 'root@example.com' }, metadataPublic: { role: 'admin' }, aal: 'aal1' },
      // Kratos v0.6: no authenticator_assurance_level at all.
      adminV06: { traits: { email: 'root@example.com' }, metadataPublic: { role: 'admin' } },
      editor: {
        traits: { email: 'ed@example.com' },
        metadataPublic: { role: 'editor' },
        verifiableAddresses: [{ value: 'ed@example.com', verified: true }],
        schemaId: 'employee',
      },
      outsider: {
        traits: { email: 'eve@evil.example' },
        metadataPublic: { role: 'user' },
        verifiableAddresses: [{ value: 'other@evil.example', verified: true }],
      },
      partner: { traits: { email: 'pat@partner.example' }, verifiableAddresses: [{ value: 'pat@partner.example', verified: false }] },
      stale: { traits: { email: 'old@example.com' }, authenticatedAt: new Date(Date.now() - 3_600_000) },
    };
    for (const [who, s] of Object.entries(people)) tokens[who] = stack.kratos.addSession(s).token;
  });
  after(() => stack.close());

  test('metadata_public role and aal2: allowed with both', async () => {
    const r = await get(`${proxy}/admin/x`, api('admin2'));
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/admin/x', 'reached the upstream');
  });

  test('a failed condition is 403 JSON for an API client and an HTML page for a browser navigation', async () => {
    const apiRes = await get(`${proxy}/admin/x`, api('editor'));
    assert.equal(apiRes.status, 403);
    const e = errorOf(apiRes);
    assert.equal(e.code, 403);
    assert.equal(e.status, 'Forbidden');
    assert.equal(e.id, undefined, 'no step-up can fix a wrong role');
    const page = await get(`${proxy}/admin/x`, browser('editor'));
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /403 Forbidden/);
    assert.equal(page.headers.location, undefined);
  });

  test('aal2 shortfall: a browser goes to the login flow with aal=aal2 and a validated return_to; an API gets 403 session_aal2_required', async () => {
    for (const who of ['admin1', 'adminV06']) {
      const b = await get(`${proxy}/admin/settings?tab=keys`, browser(who));
      assert.equal(b.status, 302, who);
      const loc = new URL(String(b.headers.location));
      assert.equal(`${loc.origin}${loc.pathname}`, LOGIN);
      assert.equal(loc.searchParams.get('aal'), 'aal2');
      assert.equal(loc.searchParams.get('return_to'), 'http://127.0.0.1:4455/admin/settings?tab=keys');
      assert.equal(loc.searchParams.get('refresh'), null);

      const a = await get(`${proxy}/admin/settings`, api(who));
      assert.equal(a.status, 403, who);
      const e = errorOf(a);
      assert.equal(e.id, 'session_aal2_required');
      assert.equal(e.status, 'Forbidden');
      assert.match(e.reason!, /aal2/);
    }
  });

  test('authenticated_within shortfall: refresh=true for a browser, session_refresh_required for an API', async () => {
    assert.equal((await get(`${proxy}/sensitive`, api('editor'))).status, 200, 'authenticated just now');
    const b = await get(`${proxy}/sensitive/pay`, browser('stale'));
    assert.equal(b.status, 302);
    const loc = new URL(String(b.headers.location));
    assert.equal(loc.searchParams.get('refresh'), 'true');
    assert.equal(loc.searchParams.get('aal'), null);
    assert.equal(loc.searchParams.get('return_to'), 'http://127.0.0.1:4455/sensitive/pay');
    const a = await get(`${proxy}/sensitive/pay`, api('stale'));
    assert.equal(a.status, 403);
    assert.equal(errorOf(a).id, 'session_refresh_required');
  });

  test('trait matches, one_of, verified address, schema id', async () => {
    const cases: Array<[string, string, number]> = [
      ['/staff', 'editor', 200],
      ['/staff', 'outsider', 403],
      ['/team', 'editor', 200],
      ['/team', 'admin1', 200],
      ['/team', 'outsider', 403],
      // The outsider has a verified address, but not the one in its email trait.
      ['/verified', 'editor', 200],
      ['/verified', 'outsider', 403],
      ['/verified', 'partner', 403],
      ['/employees', 'editor', 200],
      ['/employees', 'admin2', 403],
      // any: schema employee, or a partner address.
      ['/either', 'editor', 200],
      ['/either', 'partner', 200],
      ['/either', 'outsider', 403],
    ];
    for (const [path, who, status] of cases) assert.equal((await get(proxy + path, api(who))).status, status, `${who} ${path}`);
  });

  test('per-method: reads for everyone signed in, writes only for editors', async () => {
    assert.equal((await get(`${proxy}/articles/1`, api('outsider'))).status, 200);
    assert.equal((await get(`${proxy}/articles/1`, api('outsider'), 'POST')).status, 403);
    assert.equal((await get(`${proxy}/articles/1`, api('editor'), 'POST')).status, 200);
    assert.equal((await get(`${proxy}/articles/1`, api('editor'), 'DELETE')).status, 200);
  });

  test('an optional route without a session: the policy asks for a login (401, or the login redirect for a browser)', async () => {
    const a = await get(`${proxy}/maybe`, {});
    assert.equal(a.status, 401);
    const b = await get(`${proxy}/maybe/x`, BROWSER);
    assert.equal(b.status, 302);
    assert.equal(new URL(String(b.headers.location)).searchParams.get('return_to'), 'http://127.0.0.1:4455/maybe/x');
    assert.equal((await get(`${proxy}/maybe`, api('admin1'))).status, 200);
    assert.equal((await get(`${proxy}/maybe`, api('editor'))).status, 403);
  });

  test('policies are evaluated on the cached session: no extra Kratos call', async () => {
    await get(`${proxy}/admin`, api('admin1'));
    const calls = stack.kratos.state.calls;
    for (const path of ['/admin', '/team', '/sensitive', '/employees', '/staff']) await get(proxy + path, api('admin1'));
    assert.equal(stack.kratos.state.calls, calls);
  });

  test('a WebSocket handshake the policy refuses gets 403 (a step-up cannot be followed there)', async () => {
    const statusOf = (who: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${proxy.replace('http', 'ws')}/admin/socket`, { headers: api(who) });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => reject(new Error('the handshake was accepted')));
        ws.on('error', () => undefined);
      });
    assert.equal(await statusOf('editor'), 403);
    assert.equal(await statusOf('admin1'), 403, 'aal shortfall: 403, not a redirect');
  });

  test('the decision API evaluates the same policies', async () => {
    const decide = (path: string, headers: Record<string, string>) => get(`${stack.gw.adminUrl}/decisions${path}`, headers);
    const allow = await decide('/admin/x', api('admin2'));
    assert.equal(allow.status, 200);
    const deny = await decide('/admin/x', api('editor'));
    assert.equal(deny.status, 403);
    assert.equal(errorOf(deny).id, undefined);
    const stepUp = await decide('/admin/x', api('admin1'));
    assert.equal(stepUp.status, 403);
    assert.equal(errorOf(stepUp).id, 'session_aal2_required');
    // A browser behind nginx: 401 with the step-up login URL to redirect to, like a login.
    const browserStepUp = await decide('/admin/x', browser('admin1'));
    assert.equal(browserStepUp.status, 401);
    assert.equal(new URL(String(browserStepUp.headers.location)).searchParams.get('aal'), 'aal2');
    assert.equal((await decide('/articles/1', api('outsider'))).status, 200);
    const write = await get(`${stack.gw.adminUrl}/decisions/articles/1`, api('outsider'), 'POST');
    assert.equal(write.status, 403);
  });
});

describe('route policies and hot reload', () => {
  let stack: Stack;
  let dir: string;
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a reload applies a changed policy to the next request (on the same cached session)', async () => {
    stack = await startStack(() => ({ routes: [] }));
    dir = mkdtempSync(join(tmpdir(), 'kgw-policy-reload-'));
    const file = join(dir, 'gateway.yaml');
    const write = (policy: unknown) =>
      writeFileSync(
        file,
        stringify({
          proxy: { listen: { port: 0 }, shutdown_grace_ms: 200 },
          admin: { listen: { port: 0 } },
          ui: { enabled: false },
          kratos: { public_url: stack.kratos.url },
          routes: [
            {
              name: 'admin',
              match: { path_prefix: '/admin' },
              upstream: stack.upstream.url,
              policy,
            },
          ],
        }),
      );
    write({ path: 'identity.metadata_public.role', equals: 'admin' });
    const log = memoryLogger();
    const loaded = loadConfigFile(file, {});
    const gw = await startGateway(loaded.config, {
      logger: log.logger,
      baseDir: loaded.baseDir,
      configFile: loaded.path,
      env: {},
    });
    try {
      const { token } = stack.kratos.addSession({ metadataPublic: { role: 'editor' } });
      const headers = { 'x-session-token': token };
      assert.equal((await get(`${gw.proxyUrl}/admin`, headers)).status, 403);
      write({ path: 'identity.metadata_public.role', equals: 'editor' });
      const outcome = gw.reload('test');
      assert.equal(outcome?.result, 'applied');
      assert.deepEqual(outcome.restartRequired, []);
      assert.equal((await get(`${gw.proxyUrl}/admin`, headers)).status, 200);

      // A bad policy is a reload error naming its key path; the running policy stays.
      writeFileSync(file, readFileSync(file, 'utf8').replace('equals: editor', "matches: '('"));
      const rejected = gw.reload('test');
      assert.equal(rejected?.result, 'rejected');
      assert.ok(
        rejected.errors?.some((e) => e.startsWith('routes.0.policy.matches: invalid regular expression')),
        JSON.stringify(rejected.errors),
      );
      assert.equal((await get(`${gw.proxyUrl}/admin`, headers)).status, 200);

      // A valid policy whose separate conditions may hold on different addresses: applied, and warned about.
      write({ all: [{ path: 'identity.traits.emails', ends_with: '@corp.example' }, { verified_address: 'any' }] });
      assert.equal(gw.reload('test')?.result, 'applied');
      const warned = log.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      assert.ok(
        warned.some((l) =>
          l.msg.startsWith('route policy: routes.0.policy.all.0 (ends_with on identity.traits.emails) and routes.0.policy.all.1'),
        ),
        JSON.stringify(warned),
      );
    } finally {
      await gw.shutdown();
    }
  });
});
