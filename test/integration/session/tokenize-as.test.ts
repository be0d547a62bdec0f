/**
 * identity_assertion.tokenize_as against the Kratos v26 fixture (every answer validated against
 * the v26.2.0 spec): whoami is asked with `?tokenize_as=<template>`, Kratos's JWT is forwarded
 * in the assertion header on HTTP, WebSocket handshakes and the decision API, the cache entry is
 * bounded by the JWT's exp, and a session answer without the JWT fails closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import WebSocket from 'ws';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startEchoUpstream, startTestGateway, type EchoRecord } from '../../helpers/servers.js';
import { startModernKratos } from '../../helpers/modern-kratos.js';

const HEADER = 'x-kratos-identity-jwt';
/** JWT lifetime of the cache-bounds template, in seconds. */
const LIFETIME_S = 12;

describe('identity_assertion.tokenize_as (Kratos signs the assertion)', () => {
  let kratos: Awaited<ReturnType<typeof startModernKratos>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    kratos = await startModernKratos();

    upstream = await startEchoUpstream();
    gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      session_cache: { ttl_cap_ms: 600_000 },
      log: { access_log: false },
      identity_assertion: { enabled: true, tokenize_as: 'gateway' },
      routes: [
        { name: 'anon', match: { path_prefix: '/public' }, upstream: upstream.url, auth: 'anonymous' },
        { name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' },
      ],
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
  });

  const session = () => kratos.addSession({ aal: 'aal2' });
  const verify = (jwt: string) => jwtVerify(jwt, createLocalJWKSet(kratos.jwks), { issuer: kratos.url });

  async function get(url: string, headers: Record<string, string>): Promise<{ status: number; echo?: EchoRecord; body: string }> {
    const res = await request(url, { headers });
    const body = await res.body.text();
    return {
      status: res.statusCode,
      body,
      ...(res.statusCode === 200 && url.startsWith(gw.proxyUrl) && { echo: JSON.parse(body) as EchoRecord }),
    };
  }

  test('whoami asks for the template and the upstream receives Kratos JWT, verifiable with the template keys', async () => {
    const s = session();
    const { status, echo } = await get(`${gw.proxyUrl}/page`, { 'x-session-token': s.token, [HEADER]: 'spoofed' });
    assert.equal(status, 200);
    assert.equal(kratos.state.lastSearch, '?tokenize_as=gateway');
    const jwt = echo!.headers[HEADER] as string;
    assert.notEqual(jwt, 'spoofed');
    const { payload, protectedHeader } = await verify(jwt);
    assert.equal(protectedHeader.kid, 'kratos-template');
    assert.equal(payload.sub, s.session.identityId);
    assert.equal(payload.sid, s.session.sessionId);
    assert.ok(!echo!.rawHeaders.includes('spoofed'), 'the caller value never arrives');
  });

  test('a caller-sent assertion is stripped on an anonymous route too', async () => {
    const { status, echo } = await get(`${gw.proxyUrl}/public/x`, { [HEADER]: 'spoofed' });
    assert.equal(status, 200);
    assert.equal(echo!.headers[HEADER], undefined);
  });

  test('one whoami per session while the JWT is fresh: requests reuse the cached token', async () => {
    const s = session();
    const first = await get(`${gw.proxyUrl}/a`, { 'x-session-token': s.token });
    const calls = kratos.state.calls;
    for (let i = 0; i < 3; i++) {
      const again = await get(`${gw.proxyUrl}/a`, { 'x-session-token': s.token });
      assert.equal(again.echo!.headers[HEADER], first.echo!.headers[HEADER]);
    }
    assert.equal(kratos.state.calls, calls, 'served from the cache');
  });

  test('the WebSocket handshake carries the Kratos JWT', async () => {
    const s = session();
    const headers = await new Promise<Record<string, string>>((resolve, reject) => {
      const ws = new WebSocket(`${gw.proxyUrl.replace('http', 'ws')}/socket`, {
        headers: { 'x-session-token': s.token, [HEADER]: 'spoofed' },
      });
      const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
      ws.on('message', (m) => {
        clearTimeout(timer);
        resolve((JSON.parse(String(m)) as { headers: Record<string, string> }).headers);
        ws.close();
      });
      ws.on('error', reject);
    });
    assert.notEqual(headers[HEADER], 'spoofed');
    const { payload } = await verify(headers[HEADER]!);
    assert.equal(payload.sid, s.session.sessionId);
  });

  test('the decision API returns the Kratos JWT', async () => {
    const s = session();
    const res = await request(`${gw.adminUrl}/decisions/page`, { headers: { 'x-session-token': s.token, [HEADER]: 'spoofed' } });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const { payload } = await verify(res.headers[HEADER] as string);
    assert.equal(payload.sub, s.session.identityId);
  });

  test('the admin JWKS says the keys are Kratos template keys; no gateway key is published', async () => {
    const res = await request(`${gw.adminUrl}/.well-known/jwks.json`);
    const body = await res.body.text();
    assert.equal(res.statusCode, 404);
    assert.match(body, /tokenize_as: gateway/);
    assert.match(body, /jwks_url in Kratos/);
    assert.equal(gw.core.snapshot.jwksBody, undefined);
  });

  test('a session answer without "tokenized" fails closed (503, upstream not reached) with a log line naming tokenize_as', async () => {
    kratos.state.omitTokenized = true;
    try {
      const s = session();
      const received = upstream.received.length;
      const { status } = await get(`${gw.proxyUrl}/page`, { 'x-session-token': s.token });
      assert.equal(status, 503);
      assert.equal(upstream.received.length, received);
      const decision = await request(`${gw.adminUrl}/decisions/page`, { headers: { 'x-session-token': s.token } });
      await decision.body.dump();
      assert.equal(decision.statusCode, 503);
      assert.ok(
        gw.logLines.some((l) => l.includes('no \\"tokenized\\" JWT') && l.includes('tokenize_as')),
        'a warning explains the refusal',
      );
      assert.ok(!gw.logLines.some((l) => l.includes(s.token)), 'the credential is never logged');
    } finally {
      kratos.state.omitTokenized = false;
    }
  });
});

describe('identity_assertion.tokenize_as: cache bounds', () => {
  test('the entry lives three quarters of the JWT life, even when Kratos would allow caching longer', async () => {
    const kratos = await startModernKratos();
    // A lifetime long enough that a loaded machine neither sees the entry lapse between two
    // requests nor the old JWT expire before its replacement is polled; far below the 1 h Kratos
    // allows and the 600 s ttl_cap_ms, which is how long an entry kept without the bound lives.
    kratos.state.templates.set('short', LIFETIME_S);
    kratos.state.cacheFor200 = 3600; // not sent with tokenize_as, as Kratos does
    const upstream = await startEchoUpstream();
    const gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      session_cache: { ttl_cap_ms: 600_000 },
      log: { access_log: false },
      identity_assertion: { enabled: true, tokenize_as: 'short' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
    try {
      const s = kratos.addSession({ aal: 'aal2' });
      const ask = async () => {
        const res = await request(`${gw.proxyUrl}/x`, { headers: { 'x-session-token': s.token } });
        return ((await res.body.json()) as EchoRecord).headers[HEADER] as string;
      };
      const first = await ask();
      const calls = kratos.state.calls;
      assert.equal(await ask(), first, 'cached at once');
      assert.equal(kratos.state.calls, calls);
      // exp is whole seconds LIFETIME_S - 1 to LIFETIME_S ahead: kept at most three quarters of
      // that, so the replacement is there at least a quarter (2.75 s) before the old one expires.
      const firstExpMs = decodeJwt(first).exp! * 1000;
      let next = first;
      let askedAt = Date.now();
      while (next === first && askedAt < firstExpMs) {
        await sleep(250);
        askedAt = Date.now();
        next = await ask();
      }
      assert.notEqual(next, first, 'a new JWT was asked for before the old one expired');
      assert.ok(askedAt < firstExpMs, `the old JWT was still forwarded ${askedAt - firstExpMs} ms after its exp`);
      assert.ok(kratos.state.calls > calls);
      const { payload } = await jwtVerify(next, createLocalJWKSet(kratos.jwks));
      assert.ok(payload.exp! * 1000 > Date.now(), 'the forwarded JWT is not expired');
    } finally {
      await gw.shutdown();
      await upstream.close();
      await kratos.close();
    }
  });

  test('an unknown template is Kratos 400: 503, never a session', async () => {
    const kratos = await startModernKratos();
    const upstream = await startEchoUpstream();
    const gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      log: { access_log: false },
      identity_assertion: { enabled: true, tokenize_as: 'not-configured' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
    try {
      const s = kratos.addSession({ aal: 'aal2' });
      const res = await request(`${gw.proxyUrl}/x`, { headers: { 'x-session-token': s.token } });
      await res.body.dump();
      assert.equal(res.statusCode, 503);
      assert.equal(upstream.received.length, 0);
      assert.ok(gw.logLines.some((l) => l.includes('Kratos whoami answered 400')));
    } finally {
      await gw.shutdown();
      await upstream.close();
      await kratos.close();
    }
  });

  test('without tokenize_as, a stray "tokenized" in the body is not forwarded and whoami has no query', async () => {
    const kratos = await startModernKratos();
    kratos.state.strayTokenized = 'eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.c2ln';
    const upstream = await startEchoUpstream();
    const gw = await startTestGateway({
      kratos: { public_url: kratos.url },
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
    });
    try {
      const s = kratos.addSession({ aal: 'aal2' });
      const res = await request(`${gw.proxyUrl}/x`, { headers: { 'x-session-token': s.token } });
      const echo = (await res.body.json()) as EchoRecord;
      assert.equal(res.statusCode, 200);
      assert.equal(kratos.state.lastSearch, '');
      assert.ok(!echo.rawHeaders.some((v) => v.includes('eyJleHAiOjk5OTk5OTk5OTl9')));
    } finally {
      await gw.shutdown();
      await upstream.close();
      await kratos.close();
    }
  });
});
