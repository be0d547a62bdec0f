/**
 * The Kratos public API under a prefix on the proxy port, so browser apps get same-origin
 * self-service flows. Forwarded faithfully (method, body, cookies, status); `Location`
 * headers that point at Kratos are rewritten onto the mount. Logout and revocation purge
 * the credential from the session cache before the response reaches the client, so the
 * very next request with it is rejected; a settings submission purges the identity's cached
 * sessions, so changed traits reach the upstream on the next request.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import type { Credential } from '../gateway/credentials/index.js';
import { sendJsonError } from '../gateway/errors/json-error.js';
import type { GatewayCore } from '../gateway/gateway-core.js';
import { stripHopByHop, isHopByHopResponseHeader } from '../gateway/headers/hop-by-hop.js';
import { forwardedHeaders } from '../gateway/mutators/forwarded-headers.js';
import { requestIdOf } from '../gateway/request-context.js';

/**
 * Requests after which the gateway's cached view of a session is stale, when Kratos accepted
 * them: v0.6 and v1 logout and revocation (`DELETE /sessions` is "my session" in v0.6 and "my
 * other sessions" in v1, `DELETE /sessions/{id}` one of them), and settings submissions, which
 * change traits and so the injected headers. All purge every cached session of the caller's
 * identity: a few extra whoami calls are cheaper than reasoning about which session is which.
 */
function purgesCache(method: string, path: string): boolean {
  if (method === 'GET') return path === '/self-service/browser/flows/logout' || path === '/self-service/logout';
  if (method === 'DELETE') return path === '/sessions' || path.startsWith('/sessions/') || path === '/self-service/logout/api';
  if (method === 'POST') return path === '/self-service/settings' || path.startsWith('/self-service/settings/');
  return false;
}

const MAX_LOGOUT_BODY = 64 * 1024;

async function readSmallBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGOUT_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sessionTokenInBody(body: Buffer | undefined): string | undefined {
  if (body === undefined || body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const token = (parsed as { session_token?: unknown }).session_token;
    return typeof token === 'string' && token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

export function createKratosMount(g: GatewayCore) {
  const kratos = new URL(g.config.kratos.public_url);
  const kratosBase = kratos.href.replace(/\/$/, '');
  const kratosBasePath = kratos.pathname.replace(/\/$/, '');
  const mountUrl = g.publicOrigin + g.config.kratos.mount_prefix;
  const pool = new Pool(kratos.origin, { connections: g.config.kratos.connections, keepAliveTimeout: 10_000 });

  /** Every credential the request carries, including a `session_token` in a revocation body. */
  function requestCredentials(headers: IncomingHttpHeaders, body: Buffer | undefined): Credential[] {
    const found: Credential[] = [];
    for (const source of g.extractors) {
      const value = source.extract(headers);
      if (value !== undefined) found.push({ source, value });
    }
    const token = sessionTokenInBody(body);
    if (token !== undefined) {
      for (const source of g.extractors) if (source.kind !== 'cookie') found.push({ source, value: token });
    }
    return found;
  }

  function rewriteLocation(location: string): string {
    if (location === kratosBase || location.startsWith(kratosBase + '/') || location.startsWith(kratosBase + '?')) {
      return mountUrl + location.slice(kratosBase.length);
    }
    return location;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const purge = purgesCache(method, path);
    const originalHeaders = { ...req.headers };

    const headers = req.headers;
    const hasBody = 'content-length' in headers ? headers['content-length'] !== '0' : 'transfer-encoding' in headers;
    stripHopByHop(headers, g.injectedHeaderNames);
    delete headers.expect;
    const requestId = requestIdOf(req);
    forwardedHeaders.mutate(headers, {
      route: undefined,
      session: undefined,
      credentialKind: undefined,
      requestId,
      peerAddress: req.socket.remoteAddress,
      peerTrusted: g.trustedProxies.trusts(req.socket.remoteAddress),
      encrypted: false,
    });
    headers.host = kratos.host;

    let body: IncomingMessage | Buffer | null = hasBody ? req : null;
    // A revocation's body may carry the session token; read it (small) to purge that token too.
    if (purge && method === 'DELETE' && body !== null) {
      const buffered = await readSmallBody(req);
      if (buffered === undefined) return sendJsonError(res, 413, 'The logout request body is too large');
      body = buffered;
      headers['content-length'] = String(buffered.length);
    }

    // Learn whose sessions these are before Kratos revokes them (afterwards whoami says 401).
    // Usually a cache hit; at most one whoami call per credential on these rare requests.
    const identities = new Set<string>();
    const credentials = purge ? requestCredentials(originalHeaders, Buffer.isBuffer(body) ? body : undefined) : [];
    for (const credential of credentials) {
      const r = await g.resolver.resolve(credential);
      if (r.status === 'authenticated') identities.add(r.session.identityId);
    }

    const abort = new AbortController();
    const onClientGone = () => abort.abort(new Error('client went away'));
    res.once('close', onClientGone);
    const upstream = await pool.request({
      path: kratosBasePath + url,
      method: method as 'GET',
      headers: headers as Record<string, string>,
      body,
      signal: AbortSignal.any([abort.signal, AbortSignal.timeout(30_000)]),
    });

    if (purge && upstream.statusCode < 500) {
      for (const credential of credentials) g.resolver.purgeIdentityOf(credential);
      for (const identityId of identities) g.resolver.purgeIdentity(identityId);
    }

    const out: Record<string, string | string[]> = {};
    for (const name in upstream.headers) {
      if (isHopByHopResponseHeader(name)) continue;
      const v = upstream.headers[name];
      if (v === undefined) continue;
      out[name] = name === 'location' && typeof v === 'string' ? rewriteLocation(v) : v;
    }
    res.writeHead(upstream.statusCode, out);
    await pipeline(upstream.body, res);
    res.off('close', onClientGone);
  }

  return {
    handler(req: IncomingMessage, res: ServerResponse): void {
      handle(req, res).catch((err: unknown) => {
        if (res.destroyed && !res.writableFinished && !res.headersSent) return; // the client went away
        const e = err as { name?: string; code?: string; message?: string };
        g.logger.warn({ err: { name: e.name, code: e.code, message: e.message } }, 'kratos mount: Kratos request failed');
        if (!res.headersSent) sendJsonError(res, e.name === 'TimeoutError' ? 504 : 502, 'The identity service is unavailable');
        else res.destroy();
      });
    },
    close: () => pool.close(),
  };
}
