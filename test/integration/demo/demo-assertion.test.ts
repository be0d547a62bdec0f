/** The demo app verifies the gateway's identity assertion against the gateway's JWKS and shows the claims. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { freePort, startFakeKratos, startTestGateway } from '../../helpers/servers.js';

let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let demoPort: number;

before(async () => {
  kratos = await startFakeKratos();
  demoPort = await freePort();
  gw = await startTestGateway({
    kratos: { public_url: kratos.url },
    demo_upstream: { enabled: true, listen: { host: '127.0.0.1', port: demoPort } },
    identity_assertion: { enabled: true, claims: { email: 'identity.traits.email' } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: `http://127.0.0.1:${demoPort}`, auth: 'required' }],
  });
});

after(async () => {
  await gw.shutdown();
  await kratos.close();
});

async function page(url: string, headers: Record<string, string>): Promise<string> {
  const res = await request(url, { headers });
  assert.equal(res.statusCode, 200);
  return res.body.text();
}

test('through the gateway the page shows the assertion verified, with its claims, and hides the token', async () => {
  const s = kratos.addSession({ sessionId: 'sess-demo', traits: { email: 'demo@example.com' } });
  const body = await page(gw.proxyUrl + '/', { 'x-session-token': s.token });
  assert.match(body, /<p id="assertion-status" class="verified">Verified:/);
  const claims = /<dl class="facts" id="assertion-claims">([\s\S]*?)<\/dl>/.exec(body)?.[1] ?? '';
  assert.match(claims, new RegExp(`<dt><code>sub</code></dt><dd><code>${s.identityId}</code></dd>`));
  assert.match(claims, /<dt><code>sid<\/code><\/dt><dd><code>sess-demo<\/code><\/dd>/);
  assert.match(claims, /<dt><code>email<\/code><\/dt><dd><code>demo@example.com<\/code><\/dd>/);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\./.test(body), 'the JWT itself is not on the page');
});

test('a token the gateway did not sign, sent to the app directly, is shown as not verified', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged = await new SignJWT({ sid: 'x' })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer('http://127.0.0.1:4455')
    .setSubject('attacker')
    .setAudience(`http://127.0.0.1:${demoPort}`)
    .setExpirationTime('5m')
    .sign(privateKey);
  const body = await page(`http://127.0.0.1:${demoPort}/`, { 'x-kratos-identity-jwt': forged });
  assert.match(body, /<p id="assertion-status" class="invalid">Not verified: ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  assert.ok(!body.includes('attacker'));
});

test('without the header the page says so', async () => {
  const body = await page(`http://127.0.0.1:${demoPort}/`, {});
  assert.match(body, /<p id="assertion-status">No <code>x-kratos-identity-jwt<\/code> header/);
});
