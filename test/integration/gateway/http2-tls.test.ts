/**
 * HTTP/2 over TLS (ALPN h2) on the proxy listener: the same evaluation as h2c, X-Forwarded-Proto
 * https as the gateway saw it, and `h2` as the protocol in the metrics and the access line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createTestCa, issueCertificate, type TestCa, type TestCertificate } from '../../helpers/certificates.js';
import { startStack, type EchoRecord } from '../../helpers/servers.js';
import { h2Request } from '../../helpers/h2.js';

let dir: string;
let ca: TestCa;
let leaf: TestCertificate;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-h2-tls-'));
  ca = createTestCa(dir);
  leaf = issueCertificate(ca, dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('h2 over TLS: authenticated, X-Forwarded-Proto https, protocol h2', async () => {
  const stack = await startStack(({ upstream }) => ({
    proxy: { tls: { cert_file: leaf.certFile, key_file: leaf.keyFile } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required' }],
  }));
  const session = connect(stack.gw.proxyUrl, { ca: ca.cert });
  session.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    assert.equal((session.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
    assert.equal((await h2Request(session, { ':path': '/tls-h2', accept: 'application/json' })).status, 401);
    const s = stack.kratos.addSession();
    const res = await h2Request(session, { ':path': '/tls-h2', 'x-session-token': s.token, 'x-forwarded-proto': 'http' });
    assert.equal(res.status, 200);
    const seen = res.json<EchoRecord>();
    assert.equal(seen.headers['x-kratos-authenticated-identity-id'], s.identityId);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    const line = stack.gw.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.status === 200 && l.path === '/tls-h2');
    assert.equal(line?.protocol, 'h2');
    const metrics = await (await request(stack.gw.adminUrl + '/metrics')).body.text();
    assert.match(metrics, /kratos_gateway_requests_total\{route="app",method="GET",status="200",protocol="h2"\} 1/);
  } finally {
    session.close();
    await stack.close();
  }
});
