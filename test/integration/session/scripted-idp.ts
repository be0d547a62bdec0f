/**
 * A whoami endpoint the test scripts (when and what it answers) behind a gateway with one
 * required route answering JSON: for the tests of in-flight whoamis and purges.
 */
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { closeServer, listenOnFreePort, startEchoUpstream, startTestGateway } from '../../helpers/servers.js';

/** Answers 200 with an active session (one hour left) of this identity. */
export function sendSession(res: ServerResponse, identityId: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 's1',
      active: true,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      identity: { id: identityId, traits: {} },
    }),
  );
}

export async function startScriptedIdpGateway(
  token: string,
  config: Record<string, unknown>,
  whoami: RequestListener,
): Promise<{ gw: Awaited<ReturnType<typeof startTestGateway>>; status(): Promise<number>; close(): Promise<void> }> {
  const idp = createServer(whoami);
  const idpUrl = await listenOnFreePort(idp);
  const upstream = await startEchoUpstream();
  const gw = await startTestGateway({
    kratos: { public_url: idpUrl },
    ...config,
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
  });
  return {
    gw,
    /** The status of a request through the gateway with `token`. */
    async status() {
      const r = await request(gw.proxyUrl + '/x', { headers: { 'x-session-token': token, accept: 'application/json' } });
      await r.body.dump();
      return r.statusCode;
    },
    async close() {
      await gw.shutdown();
      await upstream.close();
      await closeServer(idp);
    },
  };
}
