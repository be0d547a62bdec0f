/**
 * What a front-door test (a real nginx or Caddy in front of the gateway's decision API) stands
 * on: a whoami test server standing in for Kratos with one session (alice), an echo upstream
 * the front door proxies to, and a gateway whose configuration the test gives (its routes'
 * `upstream` is not used: the front door proxies). The origin of return_to and of the default
 * login URL is https://app.example.com, as in a real deployment, and the identity headers are
 * the production configuration's. The front door's loopback address is in
 * proxy.trusted_proxies unless the test's `proxy` says otherwise.
 */
import { startGateway, type RunningGateway } from '../../src/start-gateway.js';
import { memoryLogger, startEchoUpstream, startFakeKratos, testConfig, type EchoRecord } from './servers.js';

export interface ForwardAuthRig {
  kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  gateway: RunningGateway;
  alice: { token: string; identityId: string };
  /** What the upstream received for exactly this path and query. */
  seen(path: string): EchoRecord[];
  close(): Promise<void>;
}

/** `config` receives the upstream's URL and returns the rest of the configuration (`proxy` is merged). */
export async function startForwardAuthRig(config: (upstream: string) => Record<string, unknown>): Promise<ForwardAuthRig> {
  const kratos = await startFakeKratos();
  const upstream = await startEchoUpstream();
  const alice = kratos.addSession({ traits: { email: 'alice@example.com' } });
  const rest = config(upstream.url);
  const gateway = await startGateway(
    testConfig({
      kratos: { public_url: kratos.url },
      identity_headers: { 'X-Kratos-Session-Id': 'session.id', 'X-User-Email': 'identity.traits.email' },
      ...rest,
      // The front door runs on loopback: the decision API believes the headers that name the
      // original request (X-Original-*, X-Forwarded-*) only from proxy.trusted_proxies.
      proxy: { public_base_url: 'https://app.example.com', trusted_proxies: ['127.0.0.1/32'], ...(rest['proxy'] as object) },
    }),
    { logger: memoryLogger().logger },
  );
  return {
    kratos,
    upstream,
    gateway,
    alice,
    seen: (path) => upstream.received.filter((r) => r.url === path),
    async close() {
      await gateway.shutdown();
      await upstream.close();
      await kratos.close();
    },
  };
}
