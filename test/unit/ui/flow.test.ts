import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseErrorContainer, parseFlow } from '../../../src/ui/flow.js';
import { loginFlowV06 } from './fixtures.js';

test('parseFlow reads return_to from a v0.6 request_url and forced as refresh', () => {
  const body = { ...loginFlowV06(), forced: true };
  const flow = parseFlow(body);
  assert.equal(flow?.returnTo, 'http://127.0.0.1:4455/dash');
  assert.equal(flow?.refresh, true);
});

test('parseFlow prefers the v1 return_to field and reads v1 refresh', () => {
  const flow = parseFlow({ ...loginFlowV06(), forced: undefined, refresh: true, return_to: 'http://127.0.0.1:4455/v1' });
  assert.equal(flow?.returnTo, 'http://127.0.0.1:4455/v1');
  assert.equal(flow?.refresh, true);
});

test('parseFlow rejects null (v0.6 unknown verification flow) and shapeless bodies', () => {
  assert.equal(parseFlow(null), undefined);
  assert.equal(parseFlow({ id: 'x' }), undefined);
  assert.equal(parseFlow({ id: 'x', ui: { action: 1, nodes: [] } }), undefined);
});

test('parseFlow drops malformed nodes and messages, normalises unknown message types to info', () => {
  const flow = parseFlow({
    id: 'x',
    ui: {
      action: '/a',
      nodes: [null, { type: 'input' }, { type: 'input', attributes: { name: 'n' } }],
      messages: [{ text: 'hi', type: 'weird' }, 'bad'],
    },
  });
  assert.equal(flow?.ui.nodes.length, 1);
  assert.equal(flow?.ui.nodes[0]?.group, 'default');
  assert.deepEqual(flow?.ui.messages, [{ id: undefined, text: 'hi', type: 'info' }]);
  assert.equal(flow?.ui.method, 'POST');
});

test('parseErrorContainer reads v0.6 errors[] and v1 error', () => {
  assert.deepEqual(
    parseErrorContainer({
      id: 'e',
      errors: [{ code: 403, status: 'Forbidden', reason: 'bad csrf', message: 'The requested action was forbidden' }],
    }),
    [{ code: 403, status: 'Forbidden', reason: 'bad csrf', message: 'The requested action was forbidden' }],
  );
  assert.deepEqual(parseErrorContainer({ id: 'e', error: { code: 500, message: 'boom' } }), [
    { code: 500, status: undefined, reason: undefined, message: 'boom' },
  ]);
  assert.deepEqual(parseErrorContainer({ id: 'e' }), []);
});
