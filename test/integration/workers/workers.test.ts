/**
 * proxy.workers: 2 without Redis: one primary and two worker processes on the
 * shared proxy socket, in front of the embedded identity server. Requests spread over both
 * workers, a logout through the mount on one worker and an admin purge reach every worker,
 * /metrics adds the workers up, a worker killed with SIGKILL is replaced, every worker signs
 * with the key the primary's JWKS publishes, a reload reaches every worker, SIGTERM drains all.
 * The steps share one process tree and run in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import type { GatewayProcess } from '../../helpers/process.js';
import { startEchoUpstream } from '../../helpers/servers.js';
import { h2Once } from '../../helpers/h2.js';
import {
  fresh,
  freshStatuses,
  logLines,
  metric,
  metrics,
  MOUNT,
  register,
  startWorkersGateway,
  workersSetup,
  type WorkersSetup,
} from './helpers.js';

const N = 20;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let setup: WorkersSetup;
let gw: GatewayProcess;
let sent200 = 0;
let sent401 = 0;

const activeWhoami = async () => metric(await metrics(setup.admin), 'kratos_gateway_whoami_requests_total{outcome="active"}');
const auth = (token: string) => ({ 'x-session-token': token });

before(async () => {
  upstream = await startEchoUpstream();
  const routes = [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }];
  setup = await workersSetup(2, routes, { identity_assertion: { enabled: true } });
  gw = startWorkersGateway(setup);
  await gw.waitFor('stdout', (t) => t.includes('"msg":"kratos-gateway started"'), 60_000);
});

after(async () => {
  await gw.stop();
  await upstream.close();
  setup.cleanup();
});

test('two workers start, each its own process, and the primary is ready', async () => {
  const started = logLines(gw.stdout(), 'worker started');
  assert.equal(started.length, 2);
  assert.equal(new Set(started.map((l) => l.pid)).size, 2);
  assert.ok(!started.some((l) => l.pid === gw.child.pid));
  const line = logLines(gw.stdout(), 'kratos-gateway started')[0]!;
  assert.equal(line.workers, 2);
  assert.equal(line.proxy, setup.proxy);
  assert.equal((await fresh(setup.admin + '/health/ready')).status, 200);
  assert.equal(metric(await metrics(setup.admin), 'kratos_gateway_workers'), 2);
});

test('new connections spread over both workers, and a session revoked through the mount is refused by every worker', async () => {
  const token = await register(setup.proxy, 'spread@example.com');
  const before = await activeWhoami();
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth(token)), Array(N).fill(200));
  sent200 += N;
  // One whoami per worker: each asked Kratos once and then answered from its own cache.
  assert.equal((await activeWhoami()) - before, 2);

  const logout = await fresh(`${setup.proxy}${MOUNT}/sessions`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ session_token: token }),
  });
  assert.equal(logout.status, 204, logout.body);
  // A worker that kept its cached entry would answer 200 from it.
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth(token)), Array(N).fill(401));
  sent401 += N;
});

test('an admin purge reaches every worker and counts what each dropped', async () => {
  const token = await register(setup.proxy, 'purge@example.com');
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth(token)), Array(N).fill(200));
  sent200 += N;
  const who = await fresh(`${setup.proxy}${MOUNT}/sessions/whoami`, { headers: auth(token) });
  const identityId = (JSON.parse(who.body) as { identity: { id: string } }).identity.id;

  const purge = await fresh(`${setup.admin}/sessions/cache/identities/${identityId}`, { method: 'DELETE' });
  assert.equal(purge.status, 200);
  assert.deepEqual(JSON.parse(purge.body), { identity_id: identityId, purged: 2 });
  const before = await activeWhoami();
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/x', auth(token)), Array(N).fill(200));
  sent200 += N;
  // Both workers had to ask Kratos again.
  assert.equal((await activeWhoami()) - before, 2);
});

test('/metrics on the admin listener adds up every worker', async () => {
  const text = await metrics(setup.admin);
  assert.equal(metric(text, 'kratos_gateway_requests_total{route="app",method="GET",status="200",protocol="http1"}'), sent200);
  assert.equal(metric(text, 'kratos_gateway_requests_total{route="app",method="GET",status="401",protocol="http1"}'), sent401);
  assert.equal(metric(text, 'kratos_gateway_request_duration_seconds_count{route="app"}'), sent200 + sent401);
  // The same in every process: not multiplied by the number of processes.
  assert.match(text, /^kratos_gateway_build_info\{[^}]*\} 1$/m);
  assert.match(text, /^kratos_gateway_config_info\{hash="[0-9a-f]{12}"\} 1$/m);
  assert.equal(text.match(/^# TYPE kratos_gateway_requests_total counter$/gm)?.length, 1);
});

test('every worker signs the identity assertion with the key the primary publishes', async () => {
  const token = await register(setup.proxy, 'assert@example.com');
  const jwks = JSON.parse((await fresh(setup.admin + '/.well-known/jwks.json')).body) as { keys: Array<JsonWebKey & { kid: string }> };
  assert.equal(jwks.keys.length, 1);
  const key = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' });
  for (let i = 0; i < 6; i++) {
    const res = await fresh(setup.proxy + '/x', { headers: auth(token) });
    assert.equal(res.status, 200);
    sent200++;
    const jwt = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-kratos-identity-jwt']!;
    const [h, p, s] = jwt.split('.') as [string, string, string];
    assert.equal((JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string }).kid, jwks.keys[0]!.kid);
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
  }
});

test('a configuration change reaches every worker', async () => {
  const routes = [
    { name: 'open', match: { path_prefix: '/open' }, upstream: upstream.url, auth: 'anonymous', strip_prefix: '/open' },
    { name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' },
  ];
  setup.write({ routes, identity_assertion: { enabled: true } });
  // The primary watches the file and tells each worker to reload.
  await gw.waitFor('stdout', (t) => logLines(t, 'configuration reloaded').length === 3, 15_000);
  const workers = logLines(gw.stdout(), 'configuration reloaded').filter((l) => l.worker !== undefined);
  assert.equal(new Set(workers.map((l) => l.worker)).size, 2);
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/open/x'), Array(N).fill(200));
});

test('a worker killed with SIGKILL is logged and replaced, and traffic is still served', async () => {
  const victim = logLines(gw.stdout(), 'worker started')[0]!;
  const app200 = 'kratos_gateway_requests_total{route="app",method="GET",status="200",protocol="http1"}';
  assert.equal(metric(await metrics(setup.admin), app200), sent200);
  process.kill(victim.pid as number, 'SIGKILL');
  const out = await gw.waitFor('stdout', (t) => logLines(t, 'worker started').length === 3, 60_000);
  const [exited] = logLines(out, 'worker exited unexpectedly; starting a replacement');
  assert.equal(exited!.pid, victim.pid);
  assert.equal(exited!.worker, victim.worker);
  assert.equal(exited!.signal, 'SIGKILL');
  assert.equal(JSON.parse(out.split('\n').find((l) => l.includes('worker exited unexpectedly'))!).level, 50);
  assert.equal((await fresh(setup.admin + '/health/ready')).status, 200);
  const text = await metrics(setup.admin);
  assert.equal(metric(text, 'kratos_gateway_worker_restarts_total'), 1);
  assert.equal(metric(text, 'kratos_gateway_workers'), 2);
  // What the killed worker had counted stays in the sums: a counter that went down would read as a reset.
  assert.equal(metric(text, app200), sent200);
  assert.deepEqual(await freshStatuses(N, setup.proxy + '/open/x'), Array(N).fill(200));
  // The replacement took the reloaded configuration too.
  const replaced = (t: string) => logLines(t, 'configuration reloaded').some((l) => l.trigger === 'worker replaced (primary)');
  await gw.waitFor('stdout', replaced, 10_000);
});

test('the workers serve HTTP/2 with prior knowledge on the shared socket too', async () => {
  const token = await register(setup.proxy, `h2-${Date.now()}@example.com`);
  assert.equal((await h2Once(setup.proxy, { ':path': '/over-h2' })).status, 401);
  const res = await h2Once(setup.proxy, { ':path': '/over-h2', 'x-session-token': token });
  assert.equal(res.status, 200);
  assert.ok(res.json<{ headers: Record<string, string> }>().headers['x-kratos-authenticated-identity-id']);
});

test('SIGTERM drains every worker: a request in flight completes, then the process exits 0', async () => {
  const slow = fresh(setup.proxy + '/open/slow');
  await new Promise((r) => setTimeout(r, 500));
  gw.child.kill('SIGTERM');
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'slow');
  assert.equal(await gw.exited, 0);
  const stopped = logLines(gw.stdout(), 'worker stopped');
  assert.equal(stopped.length, 2);
  assert.equal(logLines(gw.stdout(), 'kratos-gateway stopped').length, 1);
  // Three processes wrote to one pipe: every line is whole (batches stay within PIPE_BUF).
  for (const line of gw
    .stdout()
    .split('\n')
    .filter((l) => l !== ''))
    assert.doesNotThrow(() => JSON.parse(line), line);
  assert.ok(
    !gw.stdout().includes('worker exited unexpectedly') ||
      logLines(gw.stdout(), 'worker exited unexpectedly; starting a replacement').length === 1,
  );
});
