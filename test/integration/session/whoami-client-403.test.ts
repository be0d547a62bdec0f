import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { credentialExtractors, extractCredential } from '../../../src/gateway/pipeline/credentials/index.js';
import { KratosWhoamiClient } from '../../../src/gateway/session/kratos-whoami-client.js';
import { closeServer, listenOnFreePort } from '../../helpers/servers.js';

/** Body and headers of the next 403, set per test. */
let next: { body: string; headers?: Record<string, string> } = { body: '' };
const server = createServer((_req, res) => {
  res.writeHead(403, { 'content-type': 'application/json', ...next.headers });
  res.end(next.body);
});
let client: KratosWhoamiClient;
const credential = extractCredential(credentialExtractors('ory_kratos_session'), { 'x-session-token': 't' })!;

before(async () => {
  client = new KratosWhoamiClient(await listenOnFreePort(server), 2_000, 2);
});
after(async () => {
  await client.close();
  await closeServer(server);
});

test('403 session_aal2_required with redirect_browser_to only in error.details is a step-up', async () => {
  next = {
    body: JSON.stringify({
      error: { id: 'session_aal2_required', code: 403, reason: 'needs 2FA', message: 'm', details: { redirect_browser_to: 'http://k/x' } },
    }),
  };
  assert.deepEqual(await client.whoami(credential), {
    kind: 'aal2_required',
    reason: 'needs 2FA',
    redirectBrowserTo: 'http://k/x',
    cacheForMs: undefined,
  });
});

test('any other 403, or one whose body is not JSON, stays "no valid session"', async () => {
  for (const body of [
    JSON.stringify({ error: { id: 'security_csrf_violation', code: 403, message: 'm' } }),
    JSON.stringify({ error: { code: 403, message: 'm' } }),
    '{"error": not json',
    '',
    JSON.stringify({ error: null }),
  ]) {
    next = { body, headers: { 'ory-session-cache-for': '5' } };
    assert.deepEqual(await client.whoami(credential), { kind: 'unauthorized', cacheForMs: 5_000 }, body);
  }
});

test('a 403 body larger than 64 KiB is not read as a step-up', async () => {
  next = { body: JSON.stringify({ error: { id: 'session_aal2_required', message: 'm', pad: 'x'.repeat(70 * 1024) } }) };
  assert.equal((await client.whoami(credential)).kind, 'unauthorized');
});
