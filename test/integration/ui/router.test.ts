/**
 * The UI router against a stub Kratos on loopback: which requests it makes, what it renders,
 * where it redirects and which security headers it sets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { request } from 'undici';
import { createSelfServiceUi } from '../../../src/ui/index.js';
import { createLogger } from '../../../src/log.js';
import { loginFlowV06 } from '../../unit/ui/fixtures.js';
import { listenOnFreePort } from '../../helpers/servers.js';

const seen: { url: string; cookie: string | undefined }[] = [];
let v1Logout: boolean | 'no-session' = false;
let kratos: http.Server;
let ui: http.Server;
let kratosUrl = '';
let uiUrl = '';
const BROWSER_KRATOS = 'http://gw.test/.ory/kratos/public';

before(async () => {
  kratos = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', cookie: req.headers.cookie });
    const u = new URL(req.url ?? '/', 'http://k');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/self-service/login/flows') {
      const id = u.searchParams.get('id');
      if (id === 'good') return json(200, loginFlowV06({ identifier: '<script>x</script>' }));
      if (id === 'gone') return json(410, { error: { code: 410, message: 'gone' } });
      if (id === 'gone-v1') {
        return json(410, {
          error: {
            id: 'self_service_flow_expired',
            code: 410,
            message: 'Flow expired',
            details: {
              redirect_to: `${BROWSER_KRATOS}/self-service/login/browser?return_to=http%3A%2F%2Fgw.test%2Fdeep`,
              return_to: 'http://gw.test/deep',
            },
          },
        });
      }
      if (id === 'boom') return json(500, { error: { code: 500, message: 'boom' } });
      return json(404, { error: { code: 404, message: 'not found' } });
    }
    if (u.pathname === '/self-service/verification/flows') return json(200, null);
    if (u.pathname === '/self-service/settings/flows') return json(401, { error: { code: 401 } });
    if (u.pathname === '/self-service/errors') {
      if (u.searchParams.get('error') === 'e1' || u.searchParams.get('id') === 'e1') {
        return json(200, {
          id: 'e1',
          errors: [{ code: 403, status: 'Forbidden', reason: '<b>csrf</b>', message: 'The requested action was forbidden' }],
        });
      }
      return json(403, { error: { code: 403 } });
    }
    if (u.pathname === '/self-service/logout/browser' && v1Logout === 'no-session')
      return json(401, { error: { code: 401, id: 'session_inactive', message: 'No active session was found in this request.' } });
    if (u.pathname === '/self-service/logout/browser' && v1Logout)
      return json(200, { logout_url: 'http://gw.test/.ory/kratos/public/self-service/logout?token=t' });
    json(404, { error: { code: 404 } });
  });
  kratosUrl = await listenOnFreePort(kratos);
  const app = express();
  app.use(
    '/ui',
    createSelfServiceUi({ prefix: '/ui', kratosPublicUrl: kratosUrl, browserKratosUrl: BROWSER_KRATOS, logger: createLogger('silent') }),
  );
  ui = http.createServer(app);
  uiUrl = await listenOnFreePort(ui);
});

after(async () => {
  kratos.closeAllConnections();
  ui.closeAllConnections();
  await Promise.all([new Promise((r) => kratos.close(r)), new Promise((r) => ui.close(r))]);
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${uiUrl}${path}`, { headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

test('a login flow renders as a form posting to ui.action, with the browser cookie forwarded', async () => {
  seen.length = 0;
  const res = await get('/ui/login?flow=good', { cookie: 'ory_kratos_session=abc; other=1' });
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.deepEqual(seen, [{ url: '/self-service/login/flows?id=good', cookie: 'ory_kratos_session=abc; other=1' }]);
  assert.ok(res.body.includes(`action="${loginFlowV06().ui.action}"`));
  assert.ok(res.body.includes('<title>Sign in · kratos-gateway</title>'));
  assert.ok(!res.body.includes('<script>'), 'the identifier value is escaped');
  assert.ok(res.body.includes('<link rel="stylesheet" href="/ui/style.css">'));
});

test('login links to sign-up and recovery, carrying the flow return_to', async () => {
  const res = await get('/ui/login?flow=good');
  const rt = encodeURIComponent('http://127.0.0.1:4455/dash');
  assert.ok(res.body.includes(`href="${BROWSER_KRATOS}/self-service/registration/browser?return_to=${rt}">Sign up</a>`));
  assert.ok(res.body.includes(`href="${BROWSER_KRATOS}/self-service/recovery/browser?return_to=${rt}">Forgot your password?</a>`));
});

test('pages are not cached and carry a strict CSP', async () => {
  const res = await get('/ui/login?flow=good');
  assert.equal(res.headers['cache-control'], 'no-store');
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'none'/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

test('no, unknown or expired flow id redirects to the browser init endpoint, keeping return_to', async () => {
  for (const q of ['', '?flow=', '?flow=missing', '?flow=gone']) {
    const res = await get(`/ui/login${q}`);
    assert.equal(res.status, 302, q);
    assert.equal(res.headers.location, `${BROWSER_KRATOS}/self-service/login/browser`, q);
    assert.equal(res.headers['cache-control'], 'no-store');
  }
  const res = await get('/ui/registration?return_to=http%3A%2F%2Fgw.test%2Fx');
  assert.equal(res.headers.location, `${BROWSER_KRATOS}/self-service/registration/browser?return_to=http%3A%2F%2Fgw.test%2Fx`);
});

test('the bare prefix starts a login flow', async () => {
  for (const path of ['/ui', '/ui/']) {
    const res = await get(path);
    assert.equal(res.status, 302, path);
    assert.equal(res.headers.location, `${BROWSER_KRATOS}/self-service/login/browser`, path);
  }
});

test('a null verification flow and a session-less settings flow restart their flows', async () => {
  assert.equal((await get('/ui/verification?flow=x')).headers.location, `${BROWSER_KRATOS}/self-service/verification/browser`);
  assert.equal((await get('/ui/settings?flow=x')).headers.location, `${BROWSER_KRATOS}/self-service/settings/browser`);
});

test('a Kratos 5xx shows an unavailable page instead of a redirect loop', async () => {
  const res = await get('/ui/login?flow=boom');
  assert.equal(res.status, 502);
  assert.ok(res.body.includes('not reachable'));
});

test('the error page shows the stored error, escaped; an unknown id shows a generic message', async () => {
  const res = await get('/ui/error?error=e1');
  assert.equal(res.status, 200);
  assert.ok(res.body.includes('The requested action was forbidden'));
  assert.ok(res.body.includes('&lt;b&gt;csrf&lt;/b&gt;'));
  assert.ok((await get('/ui/error?id=e1')).body.includes('The requested action was forbidden'), 'v1 sends ?id=');
  const unknown = await get('/ui/error?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
  assert.equal(unknown.status, 200);
  assert.ok(unknown.body.includes('could not find the details'));
  assert.ok(!unknown.body.includes('<script>'));
});

test('query values are never echoed unescaped', async () => {
  seen.length = 0;
  const res = await get('/ui/login?flow=%22%3E%3Cscript%3E');
  assert.equal(res.status, 302);
  assert.equal(seen[0]?.url, '/self-service/login/flows?id=%22%3E%3Cscript%3E');
});

test('logout uses the v0.6 endpoint, or the v1 logout_url when Kratos offers one', async () => {
  v1Logout = false;
  assert.equal((await get('/ui/logout')).headers.location, `${BROWSER_KRATOS}/self-service/browser/flows/logout`);
  v1Logout = true;
  assert.equal((await get('/ui/logout')).headers.location, 'http://gw.test/.ory/kratos/public/self-service/logout?token=t');
  // v1 without a session (its 401): already signed out, and v0.6's route would be a 404 there.
  v1Logout = 'no-session';
  assert.equal((await get('/ui/logout')).headers.location, `${BROWSER_KRATOS}/self-service/login/browser`);
  v1Logout = false;
});

test("a v1 expired flow (410 with the flow's return_to in its details) restarts with that return_to", async () => {
  const res = await get('/ui/login?flow=gone-v1');
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, `${BROWSER_KRATOS}/self-service/login/browser?return_to=http%3A%2F%2Fgw.test%2Fdeep`);
});

test('the stylesheet is served as CSS', async () => {
  const res = await get('/ui/style.css');
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/css/);
  assert.ok(res.body.includes(':focus-visible'));
});
