/**
 * Hot reload must not open a hole an upstream could be attacked through:
 *  - an identity header a reload removes is still stripped from callers until the restart (an
 *    upstream not yet redeployed still trusts it, and a caller could set it);
 *  - a session cookie name a reload replaces is still removed upstream until the restart (the
 *    identity server may still issue and honour it);
 *  - a Kubernetes ConfigMap update (the `..data` symlink swapped by rename, the file name
 *    itself never touched) is picked up by the file watch, and again after the first swap.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { memoryLogger, startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function stack(): Promise<{ upstream: Echo; kratos: Kratos; dir: string }> {
  const upstream = await startEchoUpstream();
  const kratos = await startFakeKratos();
  const dir = mkdtempSync(join(tmpdir(), 'kgw-reload-sec-'));
  cleanups.push(
    () => upstream.close(),
    () => kratos.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return { upstream, kratos, dir };
}

function yaml(kratosUrl: string, routes: unknown[], extra: Record<string, unknown> = {}): string {
  return stringify({
    proxy: { listen: { port: 0 }, shutdown_grace_ms: 200 },
    admin: { listen: { port: 0 } },
    ui: { enabled: false },
    kratos: { public_url: kratosUrl },
    routes,
    ...extra,
  });
}

async function start(file: string): Promise<RunningGateway> {
  const loaded = loadConfigFile(file, {});
  const gw = await startGateway(loaded.config, {
    logger: memoryLogger().logger,
    baseDir: loaded.baseDir,
    configFile: loaded.path,
    env: {},
  });
  cleanups.push(() => gw.shutdown());
  return gw;
}

async function forwarded(gw: RunningGateway, path: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await request(gw.proxyUrl + path, { headers });
  assert.equal(res.statusCode, 200);
  return ((await res.body.json()) as { headers: Record<string, unknown> }).headers;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('hot reload keeps what callers could spoof or leak covered', () => {
  test('an identity header removed by a reload is still stripped from callers; one added is stripped from the first request', async () => {
    const { upstream, kratos, dir } = await stack();
    const file = join(dir, 'gateway.yaml');
    const route = { name: 'open', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' };
    writeFileSync(file, yaml(kratos.url, [route], { identity_headers: { 'X-User-Email': 'identity.traits.email' } }));
    const gw = await start(file);
    assert.equal((await forwarded(gw, '/x', { 'x-user-email': 'admin@example.com' }))['x-user-email'], undefined);

    // The reload drops X-User-Email and adds X-User-Name (a value path the resolver was started
    // with is not needed to strip a name).
    writeFileSync(file, yaml(kratos.url, [route], { identity_headers: { 'X-User-Name': 'identity.traits.email' } }));
    assert.equal(gw.reload('test')?.result, 'applied');
    const h = await forwarded(gw, '/x', { 'x-user-email': 'admin@example.com', x_user_email: 'admin@example.com', 'x-user-name': 'admin' });
    assert.equal(h['x-user-name'], undefined, 'the added name is stripped from the first request on the new snapshot');
    assert.equal(h['x-user-email'], undefined, 'the removed name is still stripped: the upstream may still trust it');
    assert.equal(h['x_user_email'], undefined);
  });

  test('a session cookie name replaced by a reload is still removed upstream', async () => {
    const { upstream, kratos, dir } = await stack();
    const file = join(dir, 'gateway.yaml');
    const route = { name: 'open', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'anonymous' };
    writeFileSync(file, yaml(kratos.url, [route]));
    const gw = await start(file);
    assert.equal((await forwarded(gw, '/x', { cookie: 'ory_kratos_session=secret; app=1' })).cookie, 'app=1');

    writeFileSync(file, yaml(kratos.url, [route], { kratos: { public_url: kratos.url, session_cookie: 'renamed_session' } }));
    assert.equal(gw.reload('test')?.result, 'applied');
    assert.equal((await forwarded(gw, '/x', { cookie: 'renamed_session=new; app=1' })).cookie, 'app=1');
    assert.equal(
      (await forwarded(gw, '/x', { cookie: 'ory_kratos_session=secret; app=1' })).cookie,
      'app=1',
      'the previous session cookie is still a credential the identity server may honour',
    );
  });

  test('a ConfigMap update (the ..data symlink swapped by rename) is reloaded, and again after the first swap', async () => {
    const { upstream, kratos, dir } = await stack();
    const route = (name: string, prefix: string) => ({ name, match: { path_prefix: prefix }, upstream: upstream.url, auth: 'anonymous' });
    // The kubelet's atomic writer: <dir>/..<timestamp>/gateway.yaml, ..data -> ..<timestamp>,
    // gateway.yaml -> ..data/gateway.yaml; an update writes a new timestamped directory, points
    // ..data_tmp at it and renames ..data_tmp over ..data.
    let generation = 0;
    const publish = (routes: unknown[]) => {
      const version = join(dir, `..2026_11_30_${generation++}`);
      mkdirSync(version);
      writeFileSync(join(version, 'gateway.yaml'), yaml(kratos.url, routes));
      symlinkSync(version.slice(dir.length + 1), join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    publish([route('a', '/a')]);
    symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));
    const gw = await start(join(dir, 'gateway.yaml'));
    const status = async (path: string) => {
      const res = await request(gw.proxyUrl + path);
      await res.body.dump();
      return res.statusCode;
    };
    assert.equal(await status('/b/x'), 404);

    publish([route('a', '/a'), route('b', '/b')]);
    await until('route b after the first swap', async () => (await status('/b/x')) === 200);
    publish([route('a', '/a'), route('b', '/b'), route('c', '/c')]);
    await until('route c after the second swap', async () => (await status('/c/x')) === 200);
  });
});
