import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startGateway } from '../../../src/start-gateway.js';
import { ConfigError } from '../../../src/config/errors.js';
import { ConfigSnapshot } from '../../../src/gateway/config-snapshot.js';
import { runCli } from '../../helpers/process.js';
import { memoryLogger, startStack, testConfig, type EchoRecord, type Stack } from '../../helpers/servers.js';

const HEADER = 'x-kratos-identity-jwt';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const dir = mkdtempSync(join(tmpdir(), 'assertion-'));

function writeKeyFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function routes(upstream: string) {
  return [
    { name: 'anon', match: { path_prefix: '/public' }, upstream, auth: 'anonymous' },
    { name: 'opt', match: { path_prefix: '/maybe' }, upstream, auth: 'optional' },
    { name: 'special', match: { path_prefix: '/special' }, upstream, auth: 'required', identity_assertion_audience: 'special-api' },
    { name: 'app', match: { path_prefix: '/' }, upstream, auth: 'required', on_unauthenticated: 'json' },
  ];
}

async function get(
  stack: Stack,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; echo: EchoRecord | undefined }> {
  const res = await request(stack.gw.proxyUrl + path, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, echo: res.statusCode === 200 ? (JSON.parse(text) as EchoRecord) : undefined };
}

function tokenOf(echo: EchoRecord | undefined): string {
  const v = echo?.headers[HEADER];
  assert.equal(typeof v, 'string', 'the upstream received one assertion');
  return v as string;
}

async function jwksOf(url: string): Promise<{ status: number; cacheControl: unknown; body: JSONWebKeySet }> {
  const res = await request(url);
  return { status: res.statusCode, cacheControl: res.headers['cache-control'], body: (await res.body.json()) as JSONWebKeySet };
}

describe('identity assertion: ephemeral ES256 key', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack((u) => ({
      identity_assertion: { enabled: true, claims: { email: 'identity.traits.email', given_name: 'identity.traits.name.first' } },
      routes: routes(u.upstream),
    }));
  });
  after(() => stack.close());

  test('the upstream receives a JWT that verifies against the proxy-port JWKS with the session claims', async () => {
    const expiresAt = new Date(Date.now() + 60_000);
    const s = stack.kratos.addSession({ sessionId: 'sess-1', expiresAt, traits: { email: 'a@example.com', name: { first: 'José' } } });
    const { status, echo } = await get(stack, '/page', { 'x-session-token': s.token });
    assert.equal(status, 200);
    const jwks = createRemoteJWKSet(new URL(stack.gw.proxyUrl + '/.well-known/jwks.json'));
    const upstreamOrigin = new URL(stack.upstream.url).origin;
    const { payload, protectedHeader } = await jwtVerify(tokenOf(echo), jwks, {
      issuer: 'http://127.0.0.1:4455',
      audience: upstreamOrigin,
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, s.identityId);
    assert.equal(payload.sid, 'sess-1');
    assert.equal(payload.email, 'a@example.com');
    assert.equal(payload.given_name, 'José');
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.exp! <= Math.floor(expiresAt.getTime() / 1000), 'exp is not after the session expiry');
    assert.ok(payload.exp! > payload.iat!);
    // The fake Kratos (v0.6 shape) reports no AAL and no methods: the claims are omitted, not invented.
    assert.equal(payload.aal, undefined);
    assert.equal(payload.amr, undefined);
  });

  test('a route overrides the audience', async () => {
    const s = stack.kratos.addSession();
    const { echo } = await get(stack, '/special/x', { 'x-session-token': s.token });
    const jwks = createRemoteJWKSet(new URL(stack.gw.adminUrl + '/.well-known/jwks.json'));
    const { payload } = await jwtVerify(tokenOf(echo), jwks, { audience: 'special-api' });
    assert.equal(payload.sub, s.identityId);
  });

  test('a caller-sent assertion is stripped on anonymous and optional routes and replaced on authenticated ones', async () => {
    const spoof = { 'X-Kratos-Identity-Jwt': 'spoofed', x_kratos_identity_jwt: 'spoofed-underscore' };
    for (const path of ['/public/x', '/maybe/x']) {
      const { status, echo } = await get(stack, path, spoof);
      assert.equal(status, 200);
      assert.deepEqual(
        echo!.rawHeaders.filter((_, i) => i % 2 === 1 && echo!.rawHeaders[i]!.startsWith('spoofed')),
        [],
        `${path}: no caller value arrives`,
      );
      assert.equal(echo!.headers[HEADER], undefined);
    }
    const s = stack.kratos.addSession();
    const { echo } = await get(stack, '/page', { ...spoof, 'x-session-token': s.token });
    assert.notEqual(tokenOf(echo), 'spoofed');
    assert.ok(!echo!.rawHeaders.some((v) => v.startsWith('spoofed')));
  });

  test('a refused request is answered without reaching the upstream, whatever assertion it carried', async () => {
    const before = stack.upstream.received.length;
    const res = await request(stack.gw.proxyUrl + '/page', { headers: { 'x-kratos-identity-jwt': 'spoofed' } });
    await res.body.text();
    assert.equal(res.statusCode, 401);
    assert.equal(stack.upstream.received.length, before);
  });

  test('one session reuses one token (one signature), a second session gets its own', async () => {
    const minter = stack.gw.core.snapshot.assertion!.minter!;
    const s = stack.kratos.addSession();
    const first = tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo);
    const mintedAfterFirst = minter.minted;
    for (let i = 0; i < 5; i++) assert.equal(tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo), first);
    assert.equal(minter.minted, mintedAfterFirst, 'no signature for the repeated requests');
    const other = stack.kratos.addSession();
    assert.notEqual(tokenOf((await get(stack, '/page', { 'x-session-token': other.token })).echo), first);
    assert.equal(minter.minted, mintedAfterFirst + 1);
  });

  test('the JWKS is public, cacheable, has RFC 7638 kids and no private members, on both listeners', async () => {
    const proxy = await jwksOf(stack.gw.proxyUrl + '/.well-known/jwks.json');
    const admin = await jwksOf(stack.gw.adminUrl + '/.well-known/jwks.json');
    assert.equal(proxy.status, 200);
    assert.match(String(proxy.cacheControl), /max-age=\d+/);
    assert.deepEqual(admin.body, proxy.body);
    assert.equal(proxy.body.keys.length, 1);
    for (const key of proxy.body.keys) {
      for (const m of PRIVATE_MEMBERS) assert.equal(key[m as keyof typeof key], undefined, `no "${m}"`);
      assert.equal(key.kty, 'EC');
      assert.equal(key.crv, 'P-256');
      const { calculateJwkThumbprint } = await import('jose');
      assert.equal(key.kid, await calculateJwkThumbprint(key));
    }
  });

  test('the decision API returns the assertion with the identity headers', async () => {
    const s = stack.kratos.addSession({ sessionId: 'sess-decision' });
    const res = await request(stack.gw.adminUrl + '/decisions/page', {
      headers: { 'x-session-token': s.token, 'x-kratos-identity-jwt': 'spoofed' },
    });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    const token = res.headers[HEADER];
    assert.equal(typeof token, 'string');
    const { payload } = await jwtVerify(token as string, createRemoteJWKSet(new URL(stack.gw.proxyUrl + '/.well-known/jwks.json')));
    assert.equal(payload.sid, 'sess-decision');
  });
});

describe('identity assertion: a short TTL is re-minted before it expires', () => {
  let stack: Stack;
  before(async () => {
    // Long enough that two requests on a busy machine still fall in the first three quarters,
    // and the second token is verified well before it expires.
    stack = await startStack((u) => ({ identity_assertion: { enabled: true, ttl_ms: 6_000 }, routes: routes(u.upstream) }));
  });
  after(() => stack.close());

  test('same token at once, a new one after three quarters of its lifetime', async () => {
    const s = stack.kratos.addSession();
    const first = tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo);
    assert.equal(tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo), first);
    await new Promise((r) => setTimeout(r, 4_600));
    const second = tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo);
    assert.notEqual(second, first);
    const jwks = createRemoteJWKSet(new URL(stack.gw.proxyUrl + '/.well-known/jwks.json'));
    const { payload } = await jwtVerify(second, jwks);
    assert.equal(payload.sub, s.identityId);
  });
});

describe('identity assertion: key files', () => {
  test('a JWK set with two keys signs with the first and publishes both (rotation)', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const file = writeKeyFile('rotation.json', JSON.stringify({ keys: [a, b] }));
    const stack = await startStack((u) => ({ identity_assertion: { enabled: true, key_file: file }, routes: routes(u.upstream) }));
    try {
      const { body } = await jwksOf(stack.gw.proxyUrl + '/.well-known/jwks.json');
      assert.equal(body.keys.length, 2);
      assert.deepEqual(
        body.keys.map((k) => k.x),
        [a.x, b.x],
      );
      const s = stack.kratos.addSession();
      const token = tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo);
      assert.equal(decodeProtectedHeader(token).kid, body.keys[0]!.kid);
      await jwtVerify(token, createLocalJWKSet(body));
      // Only the first key's public part verifies it.
      await assert.rejects(jwtVerify(token, createLocalJWKSet({ keys: [body.keys[1]!] })));
      assert.ok(!stack.gw.logLines.some((l) => l.includes('no key_file')), 'no ephemeral-key warning');
    } finally {
      await stack.close();
    }
  });

  for (const [algorithm, pem] of [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' })],
    ['EdDSA', generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })],
  ] as const) {
    test(`${algorithm} from a PEM file signs tokens that verify`, async () => {
      const file = writeKeyFile(`${algorithm}.pem`, String(pem));
      const stack = await startStack((u) => ({
        identity_assertion: { enabled: true, algorithm, key_file: file },
        routes: routes(u.upstream),
      }));
      try {
        const { body } = await jwksOf(stack.gw.proxyUrl + '/.well-known/jwks.json');
        for (const key of body.keys) for (const m of PRIVATE_MEMBERS) assert.equal(key[m as keyof typeof key], undefined, `no "${m}"`);
        const s = stack.kratos.addSession();
        const token = tokenOf((await get(stack, '/page', { 'x-session-token': s.token })).echo);
        const { protectedHeader, payload } = await jwtVerify(token, createLocalJWKSet(body), { algorithms: [algorithm] });
        assert.equal(protectedHeader.alg, algorithm);
        assert.equal(payload.sub, s.identityId);
      } finally {
        await stack.close();
      }
    });
  }

  const bad: Array<[string, string, string, RegExp]> = [
    [
      'an Ed25519 key for ES256',
      'ed.pem',
      String(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })),
      /ES256 needs an EC P-256 key/,
    ],
    [
      'a P-384 key for ES256',
      'p384.pem',
      String(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' })),
      /ES256 needs an EC P-256 key/,
    ],
    [
      'a public key only',
      'pub.pem',
      String(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' })),
      /no private key to sign with/,
    ],
    ['a symmetric JWK', 'oct.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), /symmetric/],
    ['no key at all', 'junk.pem', 'not a key', /not a JWK set/],
  ];
  for (const [what, name, text, reason] of bad) {
    test(`${what} is a configuration error naming identity_assertion.key_file`, async () => {
      const file = writeKeyFile(name, text);
      const { logger } = memoryLogger();
      const config = testConfig({ identity_assertion: { enabled: true, key_file: file }, routes: [] });
      await assert.rejects(startGateway(config, { logger }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^identity_assertion\.key_file: /);
        assert.match(err.message, reason);
        assert.ok(err.message.includes(file));
        if (name.endsWith('.json')) assert.ok(!err.message.includes('c2VjcmV0'), 'no key material in the message');
        return true;
      });
    });
  }

  test('a missing key file is a configuration error', async () => {
    const config = testConfig({ identity_assertion: { enabled: true, key_file: join(dir, 'absent.pem') }, routes: [] });
    await assert.rejects(startGateway(config, { logger: memoryLogger().logger }), /identity_assertion\.key_file: .*cannot read \(ENOENT\)/);
  });

  test('without a key file an ephemeral key is used and a warning says so', async () => {
    const stack = await startStack((u) => ({ identity_assertion: { enabled: true }, routes: routes(u.upstream) }));
    try {
      assert.ok(stack.gw.logLines.some((l) => l.includes('identity_assertion: no key_file')));
    } finally {
      await stack.close();
    }
  });

  test('disabled: no header, no JWKS (the path is routed like any other)', async () => {
    const stack = await startStack((u) => ({ routes: routes(u.upstream) }));
    try {
      const s = stack.kratos.addSession();
      const { echo } = await get(stack, '/page', { 'x-session-token': s.token, 'x-kratos-identity-jwt': 'spoofed' });
      assert.equal(echo!.headers[HEADER], undefined);
      const admin = await request(stack.gw.adminUrl + '/.well-known/jwks.json');
      await admin.body.text();
      assert.equal(admin.statusCode, 404);
    } finally {
      await stack.close();
    }
  });
});

describe('identity assertion: the CLI', () => {
  test('a bad key file (relative to the config file) makes validate and start exit 2 with the key path', async () => {
    const cfgDir = mkdtempSync(join(tmpdir(), 'assertion-cli-'));
    writeFileSync(join(cfgDir, 'keys.pem'), String(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })));
    const file = join(cfgDir, 'gateway.yaml');
    writeFileSync(
      file,
      'proxy: { listen: { port: 0 } }\nadmin: { listen: { port: 0 } }\nui: { enabled: false }\nidentity_assertion: { enabled: true, key_file: keys.pem }\n',
    );
    for (const args of [
      ['validate', '--config', file],
      ['--config', file],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^config error: identity_assertion\\.key_file: ${join(cfgDir, 'keys.pem').replaceAll('/', '\\/')}: key 0 is an ed25519 key`,
          'm',
        ),
      );
      assert.ok(!r.stderr.includes('PRIVATE KEY'));
    }
  });
});

describe('identity assertion: a reload keeps the keys', () => {
  test('a snapshot built from the running configuration (as a reload builds it) signs with the same keys', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    writeKeyFile('reload.json', JSON.stringify({ keys: [jwk] }));
    // Relative to baseDir (the config file's directory), not to the working directory.
    const config = testConfig({ identity_assertion: { enabled: true, key_file: 'reload.json' }, routes: [] });
    const gw = await startGateway(config, { logger: memoryLogger().logger, baseDir: dir });
    try {
      const before = gw.core.snapshot;
      // A reload spreads the running configuration, keeping the identity_assertion object (not reloadable).
      const next = new ConfigSnapshot({ ...before.config, routes: [] }, undefined, before);
      assert.equal(next.jwksBody, before.jwksBody);
      assert.equal(JSON.parse(next.jwksBody!).keys[0].x, jwk.x);
    } finally {
      await gw.shutdown();
    }
  });
});
