/**
 * Review: every access line is one valid JSON object whose fields are exactly what the gateway
 * wrote, whatever identity id Kratos answered (the direct writer embeds it unescaped).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeKratos, startTestGateway, startStack } from '../../helpers/servers.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let close: () => Promise<void>;

before(async () => {
  ({ kratos, gw, close } = await startStack((u) => ({
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: u.upstream, auth: 'required', on_unauthenticated: 'json' }],
  })));
});
after(() => close());

test('an identity id with a quote cannot forge access-log fields', async () => {
  const identityId = 'x","level":60,"route":"forged","msg":"forged';
  const { token } = kratos.addSession({ identityId });
  const r = await fetch(gw.proxyUrl + '/logged', { headers: { 'x-session-token': token } });
  await r.arrayBuffer();
  const lines = gw.logLines.filter((l) => l.includes('"msg":"request"') || l.includes('forged'));
  assert.ok(lines.length > 0);
  for (const line of lines) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed.route, 'app', `log line fields were forged: ${line}`);
    assert.equal(parsed.level, 30);
    assert.equal(parsed.identity, identityId);
  }
});
