import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlow } from '../../../src/ui/flow.js';
import { renderForm, safeUrl, splitByGroup } from '../../../src/ui/nodes.js';
import { loginFlowV06, settingsFlowV06 } from './fixtures.js';

function flowOf(body: unknown) {
  const flow = parseFlow(body);
  assert.ok(flow, 'fixture parses as a flow');
  return flow;
}

test('inputs get a label bound by for/id and keep their name, type and required flag', () => {
  const out = renderForm(flowOf(loginFlowV06()).ui, { kind: 'login', idPrefix: 'login' }).value;
  // 1070004 "ID" is Kratos's placeholder label for the identifier; it is shown in words.
  assert.match(
    out,
    /<label for="login-password_identifier">Email or username<\/label><input type="text" id="login-password_identifier" name="password_identifier"/,
  );
  assert.match(
    out,
    /<label for="login-password">Password<\/label><input type="password" id="login-password" name="password"[^>]* required[^>]* autocomplete="current-password">/,
  );
});

test('the form posts to ui.action and carries the CSRF token as a hidden input, escaped', () => {
  const flow = flowOf(loginFlowV06());
  const out = renderForm(flow.ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.ok(out.startsWith(`<form class="flow-form" action="${flow.ui.action}" method="post"`));
  assert.ok(out.includes('<input type="hidden" name="csrf_token" value="tok&quot;en&lt;">'));
});

test('submit nodes become buttons with their label, name and value', () => {
  const out = renderForm(flowOf(loginFlowV06()).ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.match(out, /<button type="submit" class="button" name="method" value="password">Sign in<\/button>/);
});

test('a <script> in a value, a label or a message is escaped, never markup', () => {
  const body = loginFlowV06({ identifier: '"><script>alert(1)</script>' });
  body.ui.nodes[1]!.meta = { label: { id: 1, text: '<script>x</script>', type: 'info' } };
  body.ui.nodes[1]!.messages = [{ id: 4000001, text: '<img src=x onerror=alert(1)>', type: 'error' }];
  const out = renderForm(flowOf(body).ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.ok(!out.includes('<script>'));
  assert.ok(!out.includes('<img'));
  assert.ok(out.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'));
  assert.ok(out.includes('&lt;script&gt;x&lt;/script&gt;</label>'));
  assert.ok(out.includes('&lt;img src=x onerror=alert(1)&gt;'));
});

test('node messages are shown with their type and linked to the input', () => {
  const body = loginFlowV06({ identifier: 'ada@example.com' });
  body.ui.nodes[2]!.messages = [{ id: 4000002, text: 'Property password is missing.', type: 'error' }];
  const out = renderForm(flowOf(body).ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.match(out, /aria-describedby="login-password-messages" aria-invalid="true"/);
  assert.match(
    out,
    /<ul class="messages" id="login-password-messages" role="alert"><li class="message message-error" data-message-id="4000002">Enter a password\.<\/li><\/ul>/,
  );
  assert.ok(out.includes('value="ada@example.com"'), 'the identifier is kept');
});

test('password values are never rendered back into the page', () => {
  const body = loginFlowV06();
  (body.ui.nodes[2]!.attributes as Record<string, unknown>).value = 'hunter22';
  const out = renderForm(flowOf(body).ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.ok(!out.includes('hunter22'));
});

test('inputs without a label get one from their name, so none is unlabelled', () => {
  const flow = flowOf(settingsFlowV06());
  const out = renderForm(flow.ui, { kind: 'settings', idPrefix: 's' }).value;
  assert.match(
    out,
    /<label for="s-traits-name-first">First<\/label><input type="text" id="s-traits-name-first" name="traits.name.first" value="Ada">/,
  );
});

test('settings nodes split into one group per method, each with the CSRF token', () => {
  const groups = splitByGroup(flowOf(settingsFlowV06()).ui.nodes);
  assert.deepEqual(
    groups.map((g) => [g.group, g.nodes.map((n) => `${String(n.attributes.name)}=${String(n.attributes.value ?? '')}`)]),
    [
      ['profile', ['csrf_token=tok"en<', 'traits.email=a@example.com', 'traits.name.first=Ada', 'method=profile']],
      ['password', ['csrf_token=tok"en<', 'password=', 'method=password']],
    ],
  );
});

test('links and images only accept http(s) (and data images), never javascript:', () => {
  assert.equal(safeUrl('javascript:alert(1)'), undefined);
  assert.equal(safeUrl(' JavaScript:alert(1)'), undefined);
  assert.equal(safeUrl('/ui/login'), '/ui/login');
  assert.equal(safeUrl('https://example.com/x'), 'https://example.com/x');
  assert.equal(safeUrl('data:image/png;base64,AAAA'), undefined);
  assert.equal(safeUrl('data:image/png;base64,AAAA', true), 'data:image/png;base64,AAAA');
});

test('a form whose action is not http(s) is not rendered', () => {
  const body = loginFlowV06();
  body.ui.action = 'javascript:alert(1)';
  const out = renderForm(flowOf(body).ui, { kind: 'login', idPrefix: 'login' }).value;
  assert.ok(!out.includes('<form'));
  assert.ok(!out.includes('javascript:'));
});

test('text, anchor and unknown nodes render safely', () => {
  const flow = flowOf({
    id: 'f',
    ui: {
      action: '/x',
      method: 'POST',
      nodes: [
        {
          type: 'text',
          group: 'lookup_secret',
          attributes: { text: { id: 1, text: '<b>codes</b>', type: 'info' } },
          messages: null,
          meta: {},
        },
        {
          type: 'a',
          group: 'oidc',
          attributes: { href: 'javascript:alert(1)', title: { id: 2, text: 'bad', type: 'info' } },
          messages: null,
          meta: {},
        },
        {
          type: 'a',
          group: 'oidc',
          attributes: { href: 'https://example.com/?a=1&b=2', title: { id: 3, text: 'Docs', type: 'info' } },
          messages: null,
          meta: {},
        },
        { type: 'script', group: 'webauthn', attributes: { src: 'https://evil.example/x.js' }, messages: null, meta: {} },
      ],
    },
  });
  const out = renderForm(flow.ui, { kind: 'settings', idPrefix: 's' }).value;
  assert.ok(out.includes('<p class="text">&lt;b&gt;codes&lt;/b&gt;</p>'));
  assert.ok(!out.includes('javascript:'));
  assert.ok(out.includes('<a href="https://example.com/?a=1&amp;b=2">Docs</a>'));
  assert.ok(!out.includes('evil.example'));
});
