/**
 * CLI: `version`, `validate`/`--check`, and the admin /version endpoint and
 * build-info metric. The CLI tests spawn the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, listenOnFreePort, startTestGateway } from '../../helpers/servers.js';
import { runCli } from '../../helpers/process.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kg-cli-')), 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

for (const args of [['--version'], ['version'], ['-v']]) {
  test(`\`${args.join(' ')}\` prints the package version and the node version, exit 0`, async () => {
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `kratos-gateway ${pkg.version} (node ${process.version})\n`);
  });
}

test('an unknown command or option exits 2 with the usage line', async () => {
  for (const args of [['frobnicate'], ['--frobnicate']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage: kratos-gateway/);
  }
});

test('validate and --check load a good configuration, print "configuration OK" and exit 0 without listening', async () => {
  // The configured port is taken: a gateway that tried to listen would exit 1.
  const blocker = createServer();
  const port = Number(new URL(await listenOnFreePort(blocker)).port);
  try {
    const file = configFile(
      `proxy: { listen: { port: ${port} } }\nadmin: { listen: { port: ${port} } }\nroutes:\n  - { name: app, match: { path_prefix: / }, upstream: "http://127.0.0.1:9" }\n`,
    );
    for (const args of [
      ['validate', '--config', file],
      ['--check', '--config', file],
      ['--check', '-c', file],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `configuration OK: ${file}\n`);
    }
  } finally {
    await closeServer(blocker);
  }
});

test('validate warns about a policy whose separate conditions may hold on different addresses, and still passes it', async () => {
  const file = configFile(
    [
      'routes:',
      '  - name: corp',
      '    match: { path_prefix: / }',
      '    upstream: "http://127.0.0.1:9"',
      '    policy:',
      "      all: [{ path: identity.traits.emails, ends_with: '@corp.example' }, { verified_address: any }]",
      '',
    ].join('\n'),
  );
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `configuration OK: ${file}\n`);
  assert.equal(
    r.stderr,
    'config warning: route policy: routes.0.policy.all.0 (ends_with on identity.traits.emails) and routes.0.policy.all.1 ' +
      '(verified_address: any) are separate conditions: if identity.traits.emails holds several addresses, one may satisfy ' +
      'the ends_with and another be the verified one; for a verified address that satisfies it, write ' +
      '{ verified_address: { path: identity.traits.emails, ends_with: … } } (docs/policies.md)\n',
  );
});

test('validate on a bad configuration prints one "config error:" line per problem and exits 2', async () => {
  const file = configFile('proxy: { listen: { port: "eighty" } }\nsession_cach: {}\n');
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.ok(
    lines.every((l) => l.startsWith('config error: ')),
    r.stderr,
  );
  assert.ok(
    lines.some((l) => l.startsWith('config error: proxy.listen.port: ')),
    r.stderr,
  );
  assert.ok(
    lines.some((l) => l.startsWith('config error: session_cach: unknown key')),
    r.stderr,
  );
});

test("validate also checks the embedded identity server's kratos.yml: the quickstart passes, a bad value fails", async () => {
  const ok = await runCli(['validate', '--config', 'config/gateway.yaml']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'configuration OK: config/gateway.yaml\n');
  const dir = mkdtempSync(join(tmpdir(), 'kg-cli-'));
  writeFileSync(join(dir, 'kratos.yml'), 'serve:\n  public:\n    base_url: 12\n');
  writeFileSync(join(dir, 'gateway.yaml'), 'embedded_kratos: { enabled: true, config_file: kratos.yml }\n');
  const bad = await runCli(['--check', '--config', join(dir, 'gateway.yaml')]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, new RegExp(`^config error: ${join(dir, 'kratos.yml').replace(/[.\\/]/g, '\\$&')}: serve\\.public\\.base_url: `));
});

test('validate names an environment variable whose value is wrong', async () => {
  const file = configFile('{}\n');
  const r = await runCli(['validate', '--config', file], { KRATOS_GATEWAY_PROXY__LISTEN__PORT: 'eighty' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^config error: KRATOS_GATEWAY_PROXY__LISTEN__PORT \(proxy\.listen\.port\): expected number/m);
  const typo = await runCli(['validate', '--config', file], { KRATOS_GATEWAY_SESSION_CACH__ENABLED: 'false' });
  assert.equal(typo.code, 2);
  assert.equal(
    typo.stderr,
    'config error: KRATOS_GATEWAY_SESSION_CACH__ENABLED (session_cach): unknown key (did you mean session_cache?)\n',
  );
});

test('validate accepts string values the environment used to mangle as YAML (":memory:")', async () => {
  const file = configFile('{}\n');
  const r = await runCli(['validate', '--config', file], {
    KRATOS_GATEWAY_EMBEDDED_KRATOS__DSN: ':memory:',
    KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://kratos:4433',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `configuration OK: ${file}\n`);
});

test('the admin listener answers GET /version and exports kratos_gateway_build_info = 1', async () => {
  const gw = await startTestGateway({});
  try {
    const v = await fetch(gw.adminUrl + '/version');
    assert.equal(v.status, 200);
    assert.deepEqual(await v.json(), { version: pkg.version, node_version: process.version });
    const metrics = await (await fetch(gw.adminUrl + '/metrics')).text();
    assert.ok(
      metrics.includes(`kratos_gateway_build_info{version="${pkg.version}",node_version="${process.version}"} 1`),
      metrics
        .split('\n')
        .filter((l) => l.includes('build_info'))
        .join('\n'),
    );
  } finally {
    await gw.shutdown();
  }
});
