/**
 * A gateway with its embedded identity server, an identity schema of the test's own, and an echo
 * upstream behind routes with policies: for end-to-end tests of what a policy lets through.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

export interface PolicyGateway {
  gw: Awaited<ReturnType<typeof startTestGateway>>;
  /** The gateway's Kratos mount (public API). */
  mount: string;
  dir: string;
  close(): Promise<void>;
}

/**
 * `routes`: name → policy, each on `/<name>`. `dsn` defaults to an in-memory database; a test that
 * reaches into the database passes a file under `dir` (given to it).
 */
export async function startPolicyGateway(opts: {
  schema: Record<string, unknown>;
  routes: Record<string, unknown>;
  dsn?: (dir: string) => string;
}): Promise<PolicyGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-policy-'));
  writeFileSync(join(dir, 'identity.schema.json'), JSON.stringify(opts.schema));
  // JSON is YAML; the embedded server reads Kratos's own key names.
  writeFileSync(
    join(dir, 'kratos.yml'),
    JSON.stringify({
      selfservice: {
        methods: { password: { enabled: true } },
        flows: { registration: { after: { password: { hooks: [{ hook: 'session' }] } } }, verification: { enabled: true } },
      },
      secrets: { cookie: ['policy-gateway-test-secret-0123456789'] },
      identity: { default_schema_url: `file://${join(dir, 'identity.schema.json')}` },
      hashers: { argon2: { memory: '8MB', iterations: 1 } },
    }),
  );
  const upstream = await startEchoUpstream();
  const port = await freePort();
  const gw = await startTestGateway({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: {
      enabled: true,
      config_file: join(dir, 'kratos.yml'),
      dsn: opts.dsn?.(dir) ?? ':memory:',
      public_listen: { port: 0 },
      admin_listen: { port: 0 },
    },
    routes: Object.entries(opts.routes).map(([name, policy]) => ({
      name,
      match: { path_prefix: `/${name}` },
      upstream: upstream.url,
      policy,
    })),
  });
  return {
    gw,
    mount: `${gw.proxyUrl}/.ory/kratos/public`,
    dir,
    close: async () => {
      await gw.shutdown();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Registered {
  status: number;
  body: { session_token?: string; identity?: { id: string } };
}

/** API registration through the gateway's Kratos mount. */
export async function registerThrough(mount: string, traits: Record<string, unknown>): Promise<Registered> {
  const init = await request(`${mount}/self-service/registration/api`);
  const flow = (await init.body.json()) as { id: string };
  const res = await request(`${mount}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ method: 'password', password: 'policy-gateway-passphrase-1', traits }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Registered['body'] };
}

/** The status of `path` for a session token, on the proxy and on the decision API. */
export async function statusesFor(p: PolicyGateway, paths: string[], token: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, base] of [
    ['proxy', p.gw.proxyUrl],
    ['decision API', `${p.gw.adminUrl}/decisions`],
  ] as const)
    for (const path of paths) {
      const res = await request(`${base}${path}`, { headers: { 'x-session-token': token } });
      await res.body.dump();
      out[`${name} ${path}`] = res.statusCode;
    }
  return out;
}
