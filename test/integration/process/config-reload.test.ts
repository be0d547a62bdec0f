/**
 * Hot reload. A valid change is applied without dropping a request under way
 * (it finishes on the snapshot it started with); an invalid file is rejected, every error
 * logged with its key path, the running routes kept; a removed route is gone; a key held by a
 * process resource is reported as needing a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { memoryLogger, startEchoUpstream, startFakeKratos } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;

async function get(gw: RunningGateway, path: string): Promise<{ status: number; text: string }> {
  const res = await request(gw.proxyUrl + path);
  return { status: res.statusCode, text: await res.body.text() };
}

async function metric(gw: RunningGateway, pattern: RegExp): Promise<number> {
  const res = await request(gw.adminUrl + '/metrics');
  const m = pattern.exec(await res.body.text());
  return m ? Number(m[1]) : NaN;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('configuration hot reload', () => {
  let dir: string;
  let file: string;
  let upstream: Echo;
  let kratos: Kratos;
  let gw: RunningGateway;
  let lines: string[];

  const route = (name: string, prefix: string) => ({ name, match: { path_prefix: prefix }, upstream: upstream.url, auth: 'anonymous' });
  const write = (routes: unknown[], extra: Record<string, unknown> = {}) =>
    writeFileSync(
      file,
      stringify({
        proxy: { listen: { port: 0 }, shutdown_grace_ms: 200 },
        admin: { listen: { port: 0 } },
        ui: { enabled: false },
        kratos: { public_url: kratos.url },
        routes,
        ...extra,
      }),
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kgw-reload-'));
    file = join(dir, 'gateway.yaml');
    upstream = await startEchoUpstream();
    kratos = await startFakeKratos();
    write([route('slow', '/slow'), route('a', '/a')]);
    const memory = memoryLogger();
    lines = memory.lines;
    const loaded = loadConfigFile(file, {});
    gw = await startGateway(loaded.config, { logger: memory.logger, baseDir: loaded.baseDir, configFile: loaded.path, env: {} });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid change of the file is applied; a request under way finishes with 200', async () => {
    const started = lines.find((l) => l.includes('kratos-gateway started'))!;
    const startHash = JSON.parse(started).config_hash as string;
    assert.match(startHash, /^[0-9a-f]{12}$/);
    assert.equal(await metric(gw, new RegExp(`kratos_gateway_config_info\\{hash="${startHash}"\\} (\\d+)`)), 1);
    assert.equal((await get(gw, '/b/x')).status, 404);

    const inFlight = get(gw, '/slow/x'); // the echo upstream answers /slow… after 3 s
    await until('the slow request to reach the upstream', async () => upstream.received.some((r) => r.url === '/slow/x'));
    write([route('slow', '/slow'), route('a', '/a'), route('b', '/b')]); // picked up by the file watch
    await until('route b', async () => (await get(gw, '/b/x')).status === 200);

    const slow = await inFlight;
    assert.equal(slow.status, 200);
    assert.equal(slow.text, 'slow');
    const reloaded = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'configuration reloaded');
    assert.ok(reloaded, 'a reload line');
    assert.match(reloaded.config_hash, /^[0-9a-f]{12}$/);
    assert.notEqual(reloaded.config_hash, startHash);
    assert.deepEqual(reloaded.routes, ['slow', 'a', 'b']);
    assert.ok((await metric(gw, /kratos_gateway_config_reloads_total\{result="applied"\} (\d+)/)) >= 1);
    assert.equal(await metric(gw, new RegExp(`kratos_gateway_config_info\\{hash="${reloaded.config_hash}"\\} (\\d+)`)), 1);
    assert.ok(
      Number.isNaN(await metric(gw, new RegExp(`kratos_gateway_config_info\\{hash="${startHash}"\\} (\\d+)`))),
      'the old hash is gone',
    );
  });

  test('an invalid file is rejected, every error logged with its key path; the running routes stay', async () => {
    const rejectedBefore = await metric(gw, /kratos_gateway_config_reloads_total\{result="rejected"\} (\d+)/);
    write([
      { ...route('a', '/a'), upstream: 'not a url' },
      { name: 'bad name!', match: { path_prefix: '/c' }, upstream: upstream.url },
    ]);
    const outcome = gw.reload('test')!;
    assert.equal(outcome.result, 'rejected');
    const errors = lines.filter((l) => l.includes('configuration reload rejected:'));
    assert.ok(
      errors.some((l) => l.includes('routes.0.upstream')),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((l) => l.includes('routes.1.name')),
      errors.join('\n'),
    );
    assert.ok((await metric(gw, /kratos_gateway_config_reloads_total\{result="rejected"\} (\d+)/)) >= rejectedBefore + 1);
    assert.equal((await get(gw, '/a/x')).status, 200);
    assert.equal((await get(gw, '/b/x')).status, 200);
  });

  test('a removed route is gone after the reload', async () => {
    write([route('slow', '/slow'), route('b', '/b')]);
    const outcome = gw.reload('test')!;
    assert.ok(outcome.result === 'applied' || outcome.result === 'unchanged'); // the file watch may have been first
    assert.equal((await get(gw, '/a/x')).status, 404);
    assert.equal((await get(gw, '/b/x')).status, 200);
  });

  test('a key held by a process resource is reported as needing a restart, not applied', async () => {
    write([route('slow', '/slow'), route('b', '/b')], { session_cache: { max_entries: 7 } });
    const outcome = gw.reload('test')!;
    assert.deepEqual(outcome.restartRequired, ['session_cache.max_entries']);
    assert.ok(lines.some((l) => l.includes('need a restart') && l.includes('session_cache.max_entries')));
    assert.equal(gw.core.snapshot.config.session_cache.max_entries, gw.core.config.session_cache.max_entries);
    assert.equal((await get(gw, '/b/x')).status, 200);
  });
});
