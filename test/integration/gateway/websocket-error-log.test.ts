/**
 * A WebSocket upstream failure is logged with the canonical path, never the query string: a
 * query may carry a token (`?access_token=…`), and credentials never reach the logs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { freePort, startTestGateway } from '../../helpers/servers.js';

const closedPort = await freePort();
const gw = await startTestGateway({
  routes: [{ name: 'ws', match: { path_prefix: '/ws' }, upstream: `http://127.0.0.1:${closedPort}`, auth: 'anonymous', websocket: true }],
});
after(() => gw.shutdown());

test('the upstream error line names the path without the query', async () => {
  const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/ws/chat?access_token=secret-in-query');
  ws.on('error', () => {}); // the handshake fails: the upstream port is closed
  await new Promise((resolve) => ws.once('close', resolve));
  let line: string | undefined;
  for (let i = 0; i < 100 && line === undefined; i++, await sleep(10))
    line = gw.logLines.find((l) => l.includes('websocket upstream error'));
  assert.ok(line, 'the failure is logged');
  assert.ok(!line.includes('secret-in-query'), line);
  assert.equal((JSON.parse(line) as { path?: string }).path, '/ws/chat');
});
