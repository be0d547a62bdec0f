/**
 * The server behind a gateway mount (serve.public.base_url with a path), disabled flows,
 * configuration variants, and the standalone command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { Browser, csrfOf, flowIdFrom, lastLinkTo, registerBrowser, startTestServer, kratosTestConfig, UI } from './helpers.js';

const MOUNT = 'http://gateway.test:4455/.ory/kratos/public/';

describe('behind a gateway mount', () => {
  it('uses serve.public.base_url for actions, links, redirects and the CSRF cookie', async () => {
    const t = await startTestServer({ config: kratosTestConfig({ serve: { public: { base_url: MOUNT } } }) });
    try {
      const b = new Browser();
      const init = await b.get(`${t.publicUrl}/self-service/recovery/browser`);
      const cookie = init.setCookies[0] ?? '';
      assert.ok(cookie.startsWith(`${Buffer.from(MOUNT).toString('base64url')}_csrf_token=`), cookie);
      assert.match(cookie, /Path=\/\.ory\/kratos\/public\//);
      assert.match(cookie, /Domain=gateway\.test/);
      const id = flowIdFrom(init.location, `${UI}/recovery`);
      const flow = (await b.getJson(`${t.publicUrl}/self-service/recovery/flows?id=${id}`)).json;
      assert.equal(flow.ui.action, `${MOUNT}self-service/recovery?flow=${id}`);

      await registerBrowser(t, new Browser(), 'mounted@example.com', 'mounted-passphrase-1');
      const reg = await new Browser().getJson(`${t.publicUrl}/self-service/registration/api`);
      assert.ok(reg.json.ui.action.startsWith(`${MOUNT}self-service/registration?flow=`));
      await b.postForm(`${t.publicUrl}/self-service/recovery?flow=${id}`, {
        method: 'link',
        csrf_token: csrfOf(flow),
        email: 'mounted@example.com',
      });
      const link = await lastLinkTo(t.adminUrl, 'mounted@example.com');
      assert.ok(link.startsWith(`${MOUNT}self-service/recovery?token=`), link);

      const api = await new Browser().getJson(`${t.publicUrl}/self-service/login/api`);
      assert.equal(api.json.ui.action, `${MOUNT}self-service/login?flow=${api.json.id}`);
      t.clock.advance(11 * 60_000);
      const expired = await new Browser().postJson(`${t.publicUrl}/self-service/login?flow=${api.json.id}`, { method: 'password' });
      assert.equal(expired.status, 302);
      assert.ok(expired.location?.startsWith(`${MOUNT}self-service/login/flows?id=`), expired.location);
      const schemaUrl = (await new Browser().getJson(`${t.adminUrl}/identities`)).json[0].schema_url;
      assert.equal(schemaUrl, `${MOUNT}schemas/default`);
    } finally {
      await t.close();
    }
  });
});

describe('configuration variants', () => {
  it('disabled recovery: API init 400, browser init forwarded to the error UI', async () => {
    const t = await startTestServer({ config: kratosTestConfig({ selfservice: { flows: { recovery: { enabled: false } } } }) });
    try {
      const api = await new Browser().getJson(`${t.publicUrl}/self-service/recovery/api`);
      assert.equal(api.status, 400);
      assert.equal(api.json.error.reason, 'Recovery is not allowed because it was disabled.');
      const b = new Browser();
      const browser = await b.get(`${t.publicUrl}/self-service/recovery/browser`);
      assert.ok(browser.location?.startsWith(`${UI}/error?error=`));
      const err = await b.getJson(`${t.publicUrl}/self-service/errors?error=${new URL(browser.location ?? '').searchParams.get('error')}`);
      assert.equal(err.json.errors[0].code, 400);
    } finally {
      await t.close();
    }
  });

  it('without the session hook, API registration returns only the identity and browsers get no cookie', async () => {
    const t = await startTestServer({
      config: kratosTestConfig({ selfservice: { flows: { registration: { after: { password: { hooks: [] } } } } } }),
    });
    try {
      const c = new Browser();
      const flow = (await c.getJson(`${t.publicUrl}/self-service/registration/api`)).json;
      const res = await c.postJson(`${t.publicUrl}/self-service/registration?flow=${flow.id}`, {
        method: 'password',
        password: 'no-hook-passphrase-1',
        traits: { email: 'nohook@example.com' },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.json), ['identity']);
      const b = new Browser();
      await registerBrowser(t, b, 'nohook-browser@example.com', 'no-hook-passphrase-2');
      assert.equal(b.jar.has('ory_kratos_session'), false);
    } finally {
      await t.close();
    }
  });

  it('verification link in a browser goes to verification.after.default_browser_return_url', async () => {
    const t = await startTestServer({
      config: kratosTestConfig({ selfservice: { flows: { verification: { after: { default_browser_return_url: `${UI}/verified` } } } } }),
    });
    try {
      await registerBrowser(t, new Browser(), 'verify-browser@example.com', 'verify-passphrase-1');
      // The registration hook already emailed a link; use it.
      const link = await lastLinkTo(t.adminUrl, 'verify-browser@example.com');
      const click = await new Browser().get(link);
      assert.equal(click.location, `${UI}/verified`);
      const identities = (await new Browser().getJson(`${t.adminUrl}/identities`)).json;
      assert.equal(identities[0].verifiable_addresses[0].verified, true);
      assert.ok(identities[0].verifiable_addresses[0].verified_at);
    } finally {
      await t.close();
    }
  });
});

describe('standalone command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'identity-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = join(import.meta.dirname ?? '', '../../../src/identity/server/cli.ts');

  function run(args: string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const firstLine = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out.stdout += d.toString();
        if (out.stdout.includes('\n')) resolve(out.stdout);
      });
      child.on('exit', () => reject(new Error(`exited before printing: ${out.stderr}`)));
    });
    firstLine.catch(() => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, out, firstLine, exited };
  }

  it('prints "kratos config error: <key>: <reason>" and exits 1 without a stack trace', async () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, stringify({ ...kratosTestConfig(), session: { lifespan: 'forever' } }));
    const res = run(['--config', file]);
    assert.equal(await res.exited, 1);
    assert.equal(res.out.stderr.trim(), 'kratos config error: session.lifespan: "forever" is not a duration like "1h", "15m" or "30s"');
  });

  it('starts from a config file, serves, and stops on SIGTERM', async () => {
    const file = join(dir, 'good.yml');
    writeFileSync(file, stringify({ ...kratosTestConfig(), serve: { public: { port: 0 }, admin: { port: 0 } } }));
    const res = run(['--config', file, '--dsn', 'memory', '--log-level', 'warn']);
    const line = await res.firstLine;
    const url = /public (http:\/\/\S+),/.exec(line)?.[1];
    assert.ok(url, line);
    const health = await new Browser().getJson(`${url}/health/ready`);
    assert.equal(health.json.status, 'ok');
    res.child.kill('SIGTERM');
    assert.equal(await res.exited, 0);
  });
});
