/**
 * A gateway whose Kratos mount fronts the embedded identity server (password method, a session
 * on registration, in-memory database), with one required route to an echo upstream: for the
 * mount tests that check purging against the real IdP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

export interface EmbeddedMount {
  upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  gw: Awaited<ReturnType<typeof startTestGateway>>;
  close(): Promise<void>;
}

export async function startEmbeddedMount(
  name: string,
  o: { privilegedSessionMaxAgeMs?: number; identityHeaders?: Record<string, string> } = {},
): Promise<EmbeddedMount> {
  const upstream = await startEchoUpstream();
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const kratosConfig = join(dir, 'kratos.yml');
  // JSON is YAML; the embedded server reads Kratos's own key names.
  writeFileSync(
    kratosConfig,
    JSON.stringify({
      selfservice: {
        methods: { password: { enabled: true } },
        flows: {
          ...(o.privilegedSessionMaxAgeMs === undefined
            ? {}
            : { settings: { privileged_session_max_age: `${o.privilegedSessionMaxAgeMs}ms` } }),
          registration: { after: { password: { hooks: [{ hook: 'session' }] } } },
        },
      },
      secrets: { cookie: [`${name}-test-secret-0123456789`] },
      identity: { default_schema_url: `file://${resolve('config/identity.schema.json')}` },
      hashers: { argon2: { memory: '8MB', iterations: 1 } },
    }),
  );
  const port = await freePort();
  const gw = await startTestGateway({
    proxy: { listen: { port }, public_base_url: `http://127.0.0.1:${port}` },
    embedded_kratos: { enabled: true, config_file: kratosConfig, dsn: ':memory:', public_listen: { port: 0 }, admin_listen: { port: 0 } },
    session_cache: { ttl_cap_ms: 600_000 },
    ...(o.identityHeaders && { identity_headers: o.identityHeaders }),
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
  });
  return {
    upstream,
    gw,
    async close() {
      await gw.shutdown();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
