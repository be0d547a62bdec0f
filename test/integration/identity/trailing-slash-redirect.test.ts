/**
 * Review of the identity server's trailing-slash redirect: it must never point off-site. A
 * browser does not send an absolute-form request target, but anything that does (a forward
 * proxy, a client library given a full URL) must not be redirected to the host it named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from '../../helpers/servers.js';
import { startTestServer } from '../identity/helpers.js';

test('an absolute-form request target with a trailing slash is not redirected to the host it names', async () => {
  const t = await startTestServer();
  try {
    const host = new URL(t.publicUrl).host;
    for (const target of ['http://evil.example/x/', 'https://evil.example/self-service/login/flows/?id=1']) {
      const res = await rawRequest(t.publicUrl, [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close']);
      const location = /\r\nlocation: ([^\r\n]*)/i.exec(res)?.[1];
      assert.ok(location === undefined || (location.startsWith('/') && !location.startsWith('//')), `${target} redirected to ${location}`);
    }
  } finally {
    await t.close();
  }
});
