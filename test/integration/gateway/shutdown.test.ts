/**
 * Review: SIGTERM drain (RunningGateway.shutdown) finishes within the grace period even when
 * a client holds an open WebSocket through the gateway (docs/operations.md: "in-flight requests finish
 * within proxy.shutdown_grace_ms, then what is left is closed").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startEchoUpstream, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

test('shutdown completes, and closes the socket, while a WebSocket is open', async () => {
  const upstream = await startEchoUpstream();
  const kratos = await startFakeKratos();
  const gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    proxy: { shutdown_grace_ms: 200 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }],
  });
  const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/ws');
  await new Promise((resolve, reject) => {
    ws.once('message', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

  // The grace period is 200 ms; 10 s is only the point where this test stops waiting.
  let guard: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    gw.shutdown().then(() => 'stopped'),
    new Promise<string>((resolve) => (guard = setTimeout(() => resolve('still draining after 10 s'), 10_000))),
  ]);
  clearTimeout(guard);
  const wsState = ws.readyState;
  ws.terminate();
  await closed;
  await upstream.close();
  await kratos.close();
  assert.equal(outcome, 'stopped', `shutdown never finished; client WebSocket readyState was ${wsState}`);
});
