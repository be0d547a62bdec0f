/**
 * One process tree (proxy.workers: 2): a worker that replaces a crashed one must serve the
 * configuration the primary applied, not whatever the file holds when it starts. An operator
 * locks a route down by a reload (anonymous → required), then saves a broken file (rejected:
 * the locked-down configuration stays); a worker crashes, and its replacement must not serve
 * the route anonymously. Likewise a replacement started after the key file was rewritten on
 * disk must sign with the key the primary publishes. Last, the primary killed outright takes every worker with it (a
 * worker left alone would miss every purge).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { fresh, freshStatuses, logLines, register, startWorkersGateway, workersSetup, type WorkersSetup } from './helpers.js';

const N = 6;
const newPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const assertion = { identity_assertion: { enabled: true, key_file: 'key.pem' } };
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let setup: WorkersSetup;
let gw: GatewayProcess;

before(async () => {
  upstream = await startEchoUpstream();
  setup = await workersSetup(2, [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' }], assertion);
  writeFileSync(join(setup.dir, 'key.pem'), newPem());
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 90_000);
});

after(async () => {
  if (gw.child.exitCode === null && gw.child.signalCode === null) await gw.stop();
  await upstream.close();
  setup.cleanup();
});

test('a replacement worker serves the configuration the primary applied, even after a rejected edit of the file', async () => {
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x'), Array(N).fill(200));
  setup.write({ routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }] });
  await gw.waitFor('stdout', (t) => logLines(t, 'configuration reloaded').length === 3, 15_000);
  const locked = await freshStatuses(N, setup.proxy + '/x');
  assert.ok(
    locked.every((s) => s !== 200),
    `served anonymously after the lock-down: ${locked.join(',')}`,
  );

  writeFileSync(setup.file, 'proxy: [this is not a gateway configuration\n');
  await gw.waitFor('stdout', (t) => t.includes('configuration reload rejected; the running configuration is kept'), 15_000);

  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  process.kill(victim.pid as number, 'SIGKILL');
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length === 3, 60_000);
  const after = await freshStatuses(N, setup.proxy + '/x');
  assert.deepEqual(after, locked, 'the replacement serves a configuration the primary no longer runs');
});

test('a replacement started after the key file was rewritten signs with the key the primary publishes', async () => {
  const token = await register(setup.proxy, 'rotated@example.com');
  const jwks = JSON.parse((await fresh(setup.admin + '/.well-known/jwks.json')).body) as { keys: Array<JsonWebKey & { kid: string }> };
  assert.equal(jwks.keys.length, 1);
  const key = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' });
  // Rotated on disk (a Secret update) without a restart: not applied until one.
  writeFileSync(join(setup.dir, 'key.pem'), newPem());
  const victim = logLines(gw.stdout(), 'worker started').at(-1)!;
  process.kill(victim.pid as number, 'SIGKILL');
  await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length === 4, 60_000);
  for (let i = 0; i < N; i++) {
    const res = await fresh(setup.proxy + '/x', { headers: { 'x-session-token': token } });
    assert.equal(res.status, 200);
    const jwt = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-kratos-identity-jwt']!;
    const [h, p, s] = jwt.split('.') as [string, string, string];
    assert.equal((JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string }).kid, jwks.keys[0]!.kid);
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
  }
});

test('the primary killed with SIGKILL: every worker exits too', async () => {
  const pids = logLines(gw.stdout(), 'worker started').map((l) => l.pid as number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  gw.child.kill('SIGKILL');
  await gw.exited;
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(pids.filter(alive), []);
});
