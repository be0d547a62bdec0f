import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html } from '../../../src/http/html.js';

test('escapeHtml escapes every character that can end text or an attribute', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&\`</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
});

test('html escapes interpolated strings but keeps nested fragments as markup', () => {
  const inner = html`<b>${'<i>'}</b>`;
  assert.equal(html`<p title="${'"x"'}">${inner}${['<', html`<br>`]}</p>`.value, '<p title="&quot;x&quot;"><b>&lt;i&gt;</b>&lt;<br></p>');
});

test('html renders false, null and undefined as nothing, numbers as text', () => {
  assert.equal(html`${false}${null}${undefined}${0}${true}`.value, '0true');
});
