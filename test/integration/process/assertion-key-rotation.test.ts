/**
 * Rotating the identity assertion's signing key exactly as docs/identity-assertion.md says, with
 * the gateway as the process an operator runs (`validate`, then a start per step) and the
 * upstream's side done with jose as the docs show it: the new key is published before it signs
 * (a fleet's first step), then signs with the old key kept as a PUBLIC key only, then the old
 * key goes. In both formats the docs name: PEM blocks made with openssl, and a JWK set whose
 * old key is the entry the gateway itself published.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey, type KeyObject, type KeyPairKeyObjectResult } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { runCli, spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { freePort, startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';

const OPENSSL = '/usr/bin/openssl';
const HEADER = 'x-kratos-identity-jwt';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** The `iss` of every token: the same across restarts on other ports, as a deployment's is. */
const ISSUER = 'https://app.example.com';

let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let kratos: Awaited<ReturnType<typeof startFakeKratos>>;
before(async () => {
  upstream = await startEchoUpstream();
  kratos = await startFakeKratos();
});
after(async () => {
  await upstream.close();
  await kratos.close();
});

/** What one running step shows: its published keys and a token it minted. */
interface Step {
  gw: GatewayProcess;
  jwks: JSONWebKeySet;
  token: string;
  /** Verifies as the docs' upstream does: createRemoteJWKSet on the admin listener's JWKS. */
  verify(token: string): Promise<unknown>;
  /** The JWKS and a new session's token, now. */
  fetchJwks(): Promise<JSONWebKeySet>;
  mint(): Promise<string>;
}

/** `validate` accepts the directory's gateway.yaml, then a gateway started from it mints a token; `check` runs while it is up. */
async function step(dir: string, keyFile: string, workers: number, check: (s: Step) => Promise<void> = async () => {}): Promise<Step> {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    stringify({
      proxy: { listen: { host: '127.0.0.1', port: proxyPort }, public_base_url: ISSUER, workers },
      admin: { listen: { host: '127.0.0.1', port: adminPort } },
      ui: { enabled: false },
      kratos: { public_url: kratos.url },
      identity_assertion: { enabled: true, key_file: keyFile, audience: 'my-app' },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
    }),
  );
  const validated = await runCli(['validate', '--config', file]);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stdout, /^configuration OK/);

  const gw = spawnGateway(['--config', file]);
  try {
    await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
    const jwksUrl = `http://127.0.0.1:${adminPort}/.well-known/jwks.json`;
    const fetchJwks = async () => {
      const res = await request(jwksUrl);
      assert.equal(res.statusCode, 200);
      const jwks = (await res.body.json()) as JSONWebKeySet;
      for (const key of jwks.keys)
        for (const m of PRIVATE_MEMBERS) assert.equal(key[m as keyof typeof key], undefined, `no "${m}" published`);
      return jwks;
    };
    const mint = async () => {
      const answer = await request(`http://127.0.0.1:${proxyPort}/page`, { headers: { 'x-session-token': kratos.addSession().token } });
      assert.equal(answer.statusCode, 200);
      const token = ((await answer.body.json()) as { headers: Record<string, string> }).headers[HEADER];
      assert.equal(typeof token, 'string', 'the upstream received an assertion');
      return token!;
    };
    const remote = createRemoteJWKSet(new URL(jwksUrl));
    const verify = (t: string) => jwtVerify(t, remote, { issuer: ISSUER, audience: 'my-app' });
    const s: Step = { gw, jwks: await fetchJwks(), token: await mint(), verify, fetchJwks, mint };
    // The token this step minted verifies the way the docs' upstream verifies it.
    await s.verify(s.token);
    await check(s);
    return s;
  } finally {
    const code = await gw.stop();
    assert.equal(code, 0, gw.stderr());
  }
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const kids = (jwks: JSONWebKeySet) => jwks.keys.map((k) => k.kid);
/** A verifier that fetched the JWKS at that step and did not fetch it again. */
const verifiesWith = (jwks: JSONWebKeySet, token: string) =>
  jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: 'my-app' });

/** The four steps of the docs, each as a key file's content: [only the old key, pre-publish, rotate, drop]. */
interface Formats {
  name: string;
  keyFile: string;
  /** Writes the step's key file; `running` is what the previous step published. */
  write(dir: string, stepNo: 1 | 2 | 3 | 4, running: JSONWebKeySet | undefined): void;
}

const pkcs8 = (k: KeyObject) => String(k.export({ format: 'pem', type: 'pkcs8' }));
const spki = (k: KeyObject) => String(k.export({ format: 'pem', type: 'spki' }));

/** Two P-256 key pairs and a directory for their key file, removed afterwards. */
async function withTwoKeys(
  run: (dir: string, file: string, oldKey: KeyPairKeyObjectResult, newKey: KeyPairKeyObjectResult) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-rotation-'));
  try {
    const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await run(dir, join(dir, 'assertion-keys.pem'), pair(), pair());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const openssl = (dir: string, ...args: string[]) => execFileSync(OPENSSL, args, { cwd: dir, stdio: 'pipe' });
const cat = (dir: string, out: string, ...files: string[]) =>
  writeFileSync(join(dir, out), files.map((f) => readFileSync(join(dir, f), 'utf8')).join(''));

const pem: Formats = {
  name: 'PEM blocks made with openssl',
  keyFile: 'assertion-keys.pem',
  write(dir, stepNo) {
    const genpkey = (out: string) => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);
    if (stepNo === 1) {
      genpkey('old.pem');
      cat(dir, 'assertion-keys.pem', 'old.pem');
    } else if (stepNo === 2) {
      genpkey('new.pem');
      cat(dir, 'assertion-keys.pem', 'old.pem', 'new.pem');
    } else if (stepNo === 3) {
      openssl(dir, 'pkey', '-in', 'old.pem', '-pubout', '-out', 'old.pub.pem');
      cat(dir, 'assertion-keys.pem', 'new.pem', 'old.pub.pem');
      rmSync(join(dir, 'old.pem'));
    } else cat(dir, 'assertion-keys.pem', 'new.pem');
  },
};

function jwkSet(): Formats {
  const key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const [oldKey, newKey] = [key(), key()];
  const write = (dir: string, keys: unknown[]) => writeFileSync(join(dir, 'assertion-keys.json'), JSON.stringify({ keys }, null, 2));
  return {
    name: 'a JWK set whose old key is the entry the gateway published',
    keyFile: 'assertion-keys.json',
    write(dir, stepNo, running) {
      if (stepNo === 1) write(dir, [oldKey]);
      else if (stepNo === 2) write(dir, [oldKey, newKey]);
      // The first entry of the running gateway's JWKS is the key signing now: a public JWK.
      else if (stepNo === 3) write(dir, [newKey, running!.keys[0]]);
      else write(dir, [newKey]);
    },
  };
}

describe('identity assertion key rotation, as documented, through the CLI', () => {
  for (const format of [pem, jwkSet()]) {
    test(`${format.name}: publish, rotate keeping the old key as a public key, drop`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kgw-rotation-'));
      try {
        format.write(dir, 1, undefined);
        const one = await step(dir, format.keyFile, 1);
        const oldKid = kidOf(one.token);
        assert.deepEqual(kids(one.jwks), [oldKid]);

        format.write(dir, 2, one.jwks);
        const two = await step(dir, format.keyFile, 1);
        assert.equal(kidOf(two.token), oldKid, 'the old key still signs');
        assert.equal(two.jwks.keys.length, 2);
        assert.equal(two.jwks.keys[0]!.kid, oldKid);
        const newKid = two.jwks.keys[1]!.kid;

        format.write(dir, 3, two.jwks);
        if (format.keyFile.endsWith('.json')) {
          const written = JSON.parse(readFileSync(join(dir, format.keyFile), 'utf8')) as { keys: JsonWebKey[] };
          assert.equal(written.keys[1]!.d, undefined, 'the old key is kept as a public key');
        } else {
          const text = readFileSync(join(dir, format.keyFile), 'utf8');
          assert.equal(text.match(/-----BEGIN PRIVATE KEY-----/g)?.length, 1, 'one private key: the new one');
          assert.match(text, /-----BEGIN PUBLIC KEY-----/, 'the old key is kept as a public key');
        }
        const three = await step(dir, format.keyFile, 1, async (s) => {
          // Tokens the old key signed before the restart still verify.
          await s.verify(one.token);
          await s.verify(two.token);
        });
        assert.equal(kidOf(three.token), newKid, 'the new key signs');
        assert.deepEqual(kids(three.jwks), [newKid, oldKid]);
        // A verifier that cached step 2's set verifies the new key's tokens without fetching again.
        await verifiesWith(two.jwks, three.token);

        format.write(dir, 4, three.jwks);
        const four = await step(dir, format.keyFile, 1, async (s) => {
          await assert.rejects(s.verify(one.token), /no applicable key found|ERR_JWKS_NO_MATCHING_KEY/);
        });
        assert.deepEqual(kids(four.jwks), [newKid]);
        assert.equal(kidOf(four.token), newKid);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('with proxy.workers: 2 the workers sign with the first private key and the primary publishes every key', () =>
    withTwoKeys(async (dir, file, oldKey, newKey) => {
      const x = (k: KeyObject) => k.export({ format: 'jwk' }).x;
      // Pre-publish: the old key signs, the new one (a private key after it) is only published.
      writeFileSync(file, pkcs8(oldKey.privateKey) + pkcs8(newKey.privateKey));
      const two = await step(dir, 'assertion-keys.pem', 2);
      assert.deepEqual(
        two.jwks.keys.map((k) => k.x),
        [x(oldKey.publicKey), x(newKey.publicKey)],
      );
      assert.equal(kidOf(two.token), two.jwks.keys[0]!.kid);
      // Rotate: the new key signs, the old one is kept as a public key.
      writeFileSync(file, pkcs8(newKey.privateKey) + spki(oldKey.publicKey));
      const three = await step(dir, 'assertion-keys.pem', 2, async (s) => {
        await s.verify(two.token);
      });
      assert.deepEqual(
        three.jwks.keys.map((k) => k.x),
        [x(newKey.publicKey), x(oldKey.publicKey)],
      );
      assert.equal(kidOf(three.token), three.jwks.keys[0]!.kid);
    }));

  test('a reload does not rotate: rotated keys are reported as needing a restart, a broken file as a config error; the running keys stay', () =>
    withTwoKeys(async (dir, file, oldKey, newKey) => {
      writeFileSync(file, pkcs8(oldKey.privateKey));
      await step(dir, 'assertion-keys.pem', 1, async (s) => {
        const oldKid = s.jwks.keys[0]!.kid;
        const reloadUntil = async (text: string) => {
          s.gw.child.kill('SIGHUP');
          const out = await s.gw.waitFor('stdout', (t) => t.includes(text), 30_000);
          return out.split('\n').filter((l) => l.includes(text));
        };
        writeFileSync(file, pkcs8(newKey.privateKey) + spki(oldKey.publicKey));
        const [warning] = await reloadUntil('need a restart');
        assert.deepEqual(JSON.parse(warning!).keys, ['identity_assertion.key_file (its keys changed)']);
        assert.deepEqual(await s.fetchJwks(), s.jwks);
        assert.equal(kidOf(await s.mint()), oldKid);

        writeFileSync(file, 'not a key\n');
        const [error] = await reloadUntil('identity assertion key file rejected');
        assert.equal(JSON.parse(error!).error, `identity_assertion.key_file: ${file}: no PEM block and not a JWK set`);
        assert.deepEqual(await s.fetchJwks(), s.jwks);
        const token = await s.mint();
        assert.equal(kidOf(token), oldKid);
        await s.verify(token);
      });
    }));
});
