import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlow } from '../../../src/ui/flow.js';
import { errorPage, flowPage } from '../../../src/ui/pages.js';
import { inputNode, loginFlowV06, settingsFlowV06 } from './fixtures.js';

const env = { prefix: '/ui', browserKratosUrl: 'http://gw.test/.ory/kratos/public' };

function page(kind: Parameters<typeof flowPage>[1], body: unknown): string {
  const flow = parseFlow(body);
  assert.ok(flow);
  return flowPage(env, kind, flow);
}

test('a page is a complete document with the stylesheet, a viewport and no script', () => {
  const out = page('login', loginFlowV06());
  assert.ok(out.startsWith('<!doctype html>'));
  assert.ok(out.includes('<html lang="en">'));
  assert.ok(out.includes('<meta name="viewport" content="width=device-width, initial-scale=1">'));
  assert.ok(out.includes('<link rel="stylesheet" href="/ui/style.css">'));
  assert.ok(!/<script|<style| style=/.test(out), 'no inline script or style, which the CSP forbids');
});

test('a refresh (forced) login asks the user to confirm who they are', () => {
  assert.ok(page('login', { ...loginFlowV06(), forced: true }).includes('<h1>Confirm it’s you</h1>'));
});

test('a v1 login asking for aal2 is the second-factor page: its own title, a way out by logging out, no sign-up', () => {
  const out = page('login', { ...loginFlowV06(), requested_aal: 'aal2' });
  assert.ok(out.includes('<h1>Two-factor authentication</h1>'));
  assert.ok(out.includes('href="/ui/logout">Log out</a>'));
  assert.ok(!out.includes('>Sign up</a>'));
  assert.ok(page('login', { ...loginFlowV06(), requested_aal: 'aal1' }).includes('<h1>Sign in</h1>'));
});

test('script-only method groups (WebAuthn) are left out with one note; the other methods stay in the form', () => {
  const body = loginFlowV06();
  const script = {
    type: 'script',
    group: 'webauthn',
    attributes: { src: 'http://k/webauthn.js', id: 'webauthn_script', node_type: 'script' },
    messages: [],
    meta: {},
  };
  const trigger = inputNode('webauthn', { name: 'webauthn_login_trigger', type: 'button', value: '', onclick: 'window.x()' });
  const out = page('login', { ...body, ui: { ...body.ui, nodes: [...body.ui.nodes, trigger, script] } });
  assert.ok(!out.includes('webauthn'), 'no WebAuthn node rendered');
  assert.equal([...out.matchAll(/need JavaScript/g)].length, 1);
  assert.match(out, /name="password"/);
  assert.ok(!page('login', body).includes('need JavaScript'), 'no note without such methods');
});

test('form-level messages are shown above the form with their type', () => {
  const body = loginFlowV06();
  const out = page('login', {
    ...body,
    ui: { ...body.ui, messages: [{ id: 4000006, text: 'The provided credentials are invalid', type: 'error' }] },
  });
  assert.match(
    out,
    /<ul class="messages" role="alert"><li class="message message-error" data-message-id="4000006">The provided credentials are invalid<\/li><\/ul><form/,
  );
});

test('settings renders one titled section and form per method', () => {
  const out = page('settings', settingsFlowV06());
  assert.equal(out.match(/<form /g)?.length, 2);
  assert.ok(out.includes('<h2 id="section-profile">Profile</h2>'));
  assert.ok(out.includes('<h2 id="section-password">Change password</h2>'));
  assert.ok(out.includes('href="/ui/logout">Log out</a>'));
});

test('registration and recovery link back to sign in', () => {
  const reg = page('registration', { id: 'r', ui: { action: '/r', nodes: [] } });
  assert.ok(reg.includes(`href="${env.browserKratosUrl}/self-service/login/browser">Sign in</a>`));
  const rec = page('recovery', { id: 'r', ui: { action: '/r', nodes: [inputNode('link', { name: 'email', type: 'email' })] } });
  assert.ok(rec.includes('Back to sign in</a>'));
  assert.ok(rec.includes('<label for="recovery-email">Email</label>'));
});

test('a verified (passed_challenge) verification flow says so instead of showing the form again', () => {
  const out = page('verification', {
    id: 'v',
    state: 'passed_challenge',
    ui: { action: '/v', nodes: [inputNode('link', { name: 'email', type: 'email' })] },
  });
  assert.ok(out.includes('Your email address is verified.'));
  assert.ok(!out.includes('<form'));
  assert.ok(out.includes('href="/">Go to the app</a>'));
});

test('a javascript: return_to never becomes the app link', () => {
  const out = page('settings', { ...settingsFlowV06(), return_to: 'javascript:alert(1)' });
  assert.ok(!out.includes('href="javascript:'));
  assert.ok(out.includes('href="/">Back to the app</a>'));
});

test('the error page escapes what Kratos stored', () => {
  const out = errorPage(env, [{ message: '<b>bad</b>', reason: 'r<', status: 'Forbidden', code: 403 }]);
  assert.ok(out.includes('&lt;b&gt;bad&lt;/b&gt;'));
  assert.ok(out.includes('r&lt;'));
  assert.ok(out.includes('Code 403 (Forbidden)'));
});

test('the settings page after recovery says "15 minutes", not Kratos\'s "15.00 minutes"', () => {
  const body = settingsFlowV06();
  const text =
    'You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next 15.00 minutes.';
  const out = page('settings', { ...body, ui: { ...body.ui, messages: [{ id: 1060001, text, type: 'info' }] } });
  assert.ok(out.includes('within the next 15 minutes.'));
  assert.ok(!out.includes('15.00'));
});
