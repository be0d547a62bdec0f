/**
 * Header mutators (src/gateway/pipeline/mutators): identity injection, X-Forwarded-* only from trusted
 * proxies, the Kratos credential removed before forwarding.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import { parseConfig } from '../../../src/config/load.js';
import { headerMutators, type ForwardContext } from '../../../src/gateway/pipeline/mutators/index.js';
import { sessionCookie } from '../../../src/gateway/pipeline/credentials/session-cookie.js';
import { credentialRemoval, isKratosCsrfCookieName } from '../../../src/gateway/pipeline/mutators/credential-removal.js';
import { forwardedHeaders } from '../../../src/gateway/pipeline/mutators/forwarded-headers.js';
import { identityHeaders } from '../../../src/gateway/pipeline/mutators/identity-headers.js';
import { RouteTable } from '../../../src/gateway/routing/route-table.js';
import type { SessionSummary } from '../../../src/gateway/session/session-summary.js';

const config = parseConfig({
  identity_headers: { 'X-User-Email': 'identity.traits.email', 'X-User-Name': 'identity.traits.name' },
  routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
});
const route = new RouteTable(config.routes, config.identity_headers).all[0]!;
const SESSION: SessionSummary = {
  identityId: 'id-1',
  sessionId: 's-1',
  expiresAtMs: Number.POSITIVE_INFINITY,
  values: new Map([['identity.traits.email', 'alice@example.com']]),
};

function ctx(over: Partial<ForwardContext> = {}): ForwardContext {
  return {
    route,
    session: SESSION,
    credentialKind: 'cookie',
    requestId: 'rid',
    peerAddress: '203.0.113.9',
    peerTrusted: false,
    encrypted: false,
    ...over,
  };
}

describe('identityHeaders', () => {
  test('injects the identity id and the mapped values that exist', () => {
    const h: IncomingHttpHeaders = {};
    identityHeaders.mutate(h, ctx());
    assert.deepEqual(h, { 'x-kratos-authenticated-identity-id': 'id-1', 'x-user-email': 'alice@example.com' });
  });
  test('overwrites whatever was there', () => {
    const h: IncomingHttpHeaders = { 'x-kratos-authenticated-identity-id': 'spoof', 'x-user-email': 'spoof', 'x-user-name': 'spoof' };
    identityHeaders.mutate(h, ctx());
    assert.equal(h['x-kratos-authenticated-identity-id'], 'id-1');
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h['x-user-name'], 'spoof', 'a value the session lacks is not set (the strip stage removed the spoof earlier)');
  });
  test('no session: nothing injected', () => {
    const h: IncomingHttpHeaders = {};
    identityHeaders.mutate(h, ctx({ session: undefined }));
    assert.deepEqual(h, {});
  });
});

describe('forwardedHeaders', () => {
  test('untrusted peer: every client forwarding header is replaced by what the gateway saw', () => {
    const h: IncomingHttpHeaders = {
      host: 'gw.example',
      'x-forwarded-for': '1.1.1.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-prefix': '/admin',
      'x-forwarded-port': '443',
      forwarded: 'for=1.1.1.1;host=evil',
      'x-real-ip': '1.1.1.1',
      'x-request-id': 'client-chosen',
    };
    forwardedHeaders.mutate(h, ctx());
    assert.deepEqual(h, {
      host: 'gw.example',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example',
      'x-request-id': 'rid',
    });
  });
  test('trusted peer: incoming values are kept and the peer is appended', () => {
    const h: IncomingHttpHeaders = {
      host: 'internal:4455',
      'x-forwarded-for': '198.51.100.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example.com',
    };
    forwardedHeaders.mutate(h, ctx({ peerTrusted: true, peerAddress: '10.0.0.2' }));
    assert.equal(h['x-forwarded-for'], '198.51.100.1, 10.0.0.2');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'app.example.com');
  });
  test('trusted peer without forwarding headers: the gateway fills them', () => {
    const h: IncomingHttpHeaders = { host: 'gw' };
    forwardedHeaders.mutate(h, ctx({ peerTrusted: true, peerAddress: '10.0.0.2', encrypted: true }));
    assert.equal(h['x-forwarded-for'], '10.0.0.2');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'gw');
  });
});

describe('credentialRemoval', () => {
  const removal = credentialRemoval('ory_kratos_session');
  test('removes only the Kratos cookie and keeps the others', () => {
    const h: IncomingHttpHeaders = { cookie: 'theme=dark; ory_kratos_session=tok; xory_kratos_session=keep; csrf=1' };
    removal.mutate(h, ctx());
    assert.equal(h.cookie, 'theme=dark; xory_kratos_session=keep; csrf=1');
  });
  test('removes the Cookie header when the Kratos cookie was the only one', () => {
    const h: IncomingHttpHeaders = { cookie: 'ory_kratos_session=tok' };
    removal.mutate(h, ctx());
    assert.equal(h.cookie, undefined);
  });
  test('removes the Kratos CSRF cookie of every Kratos version, keeps look-alikes', () => {
    const v06 = `${Buffer.from('http://127.0.0.1:4455/.ory/kratos/public/').toString('base64url')}_csrf_token`;
    const v1 = `csrf_token_${'ab12'.repeat(16)}`;
    const h: IncomingHttpHeaders = {
      cookie: `a=1; csrf_token=old; ${v06}=s06; ${v1}=s1; csrf_tokenx=keep; app_csrf_token=keep; xcsrf_token=keep; csrftoken=keep`,
    };
    removal.mutate(h, ctx());
    assert.equal(h.cookie, 'a=1; csrf_tokenx=keep; app_csrf_token=keep; xcsrf_token=keep; csrftoken=keep');
  });
  test('a CSRF cookie is recognised by how Kratos builds its name', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    for (const name of ['csrf_token', 'csrf_token_0f', `${b64('https://auth.example.com/')}_csrf_token`, `${b64('http://x')}_csrf_token`])
      assert.ok(isKratosCsrfCookieName(name), name);
    for (const name of [
      'csrf_tokenx',
      'csrftoken',
      '_csrf_token',
      'app_csrf_token',
      `${b64('ftp://x')}_csrf_token`,
      'my.app_csrf_token',
      'XSRF-TOKEN',
    ])
      assert.ok(!isKratosCsrfCookieName(name), name);
  });
  test('X-Session-Token always goes', () => {
    const h: IncomingHttpHeaders = { 'x-session-token': 't' };
    removal.mutate(h, ctx({ credentialKind: undefined }));
    assert.equal(h['x-session-token'], undefined);
  });
  test('Authorization goes only when its bearer token authenticated the request', () => {
    const a: IncomingHttpHeaders = { authorization: 'Bearer t' };
    removal.mutate(a, ctx({ credentialKind: 'bearer' }));
    assert.equal(a.authorization, undefined);
    const b: IncomingHttpHeaders = { authorization: 'Basic eDp5' };
    removal.mutate(b, ctx({ credentialKind: 'cookie' }));
    assert.equal(b.authorization, 'Basic eDp5');
  });
});

describe('credentialRemoval agrees with the cookie extractor', () => {
  const removal = credentialRemoval('ory_kratos_session');
  const extractor = sessionCookie('ory_kratos_session');

  test('a Kratos cookie written with spaces around "=" authenticates, so it is removed too', () => {
    for (const cookie of ['ory_kratos_session =tok', 'a=1; ory_kratos_session = tok', 'a=1;ory_kratos_session\t=tok']) {
      assert.equal(extractor.extract({ cookie }), 'tok', cookie);
      const h: IncomingHttpHeaders = { cookie };
      removal.mutate(h, ctx());
      assert.equal(
        h.cookie === undefined ? undefined : extractor.extract({ cookie: h.cookie }),
        undefined,
        `${JSON.stringify(cookie)} → ${JSON.stringify(h.cookie)}`,
      );
    }
  });

  test('property: after removal the extractor finds no Kratos cookie, and other cookies survive', () => {
    const name = fc.constantFrom('ory_kratos_session', 'ory_kratos_session', 'a', 'theme', 'xory_kratos_session', 'ory_kratos_session_x');
    const space = fc.constantFrom('', '', ' ', '  ', '\t');
    const value = fc.constantFrom('tok', 'v1', 'x%41', '"q"', 'a=b');
    const pair = fc.tuple(space, name, space, space, value).map(([a, n, b, c, v]) => `${a}${n}${b}=${c}${v}`);
    fc.assert(
      fc.property(fc.array(pair, { minLength: 1, maxLength: 5 }), fc.constantFrom(';', '; '), (pairs, sep) => {
        const cookie = pairs.join(sep);
        const h: IncomingHttpHeaders = { cookie };
        removal.mutate(h, ctx());
        if (h.cookie !== undefined)
          assert.equal(extractor.extract({ cookie: h.cookie }), undefined, `${JSON.stringify(cookie)} → ${JSON.stringify(h.cookie)}`);
        const others = pairs.map((p) => p.trim()).filter((p) => !/^ory_kratos_session\s*=/.test(p));
        const forwarded = h.cookie === undefined ? [] : h.cookie.split(';').map((p) => p.trim());
        assert.deepEqual(forwarded, others, JSON.stringify(cookie));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('headerMutators', () => {
  test('strip_credentials (default true) adds credential removal; false keeps the credential', () => {
    const h1: IncomingHttpHeaders = { cookie: 'ory_kratos_session=tok' };
    for (const m of headerMutators(config)) m.mutate(h1, ctx());
    assert.equal(h1.cookie, undefined);
    const keep = parseConfig({ proxy: { strip_credentials: false } });
    const h2: IncomingHttpHeaders = { cookie: 'ory_kratos_session=tok' };
    for (const m of headerMutators(keep)) m.mutate(h2, ctx());
    assert.equal(h2.cookie, 'ory_kratos_session=tok');
  });
});
