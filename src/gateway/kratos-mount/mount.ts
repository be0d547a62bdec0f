/**
 * The Kratos public API under a prefix on the proxy port, so browser apps get same-origin
 * self-service flows. Forwarded faithfully (method, body, cookies, status); `Location`
 * headers that point at Kratos are rewritten onto the mount.
 *
 * The credentials a request carries are purged (see purge-policy.ts) before the response
 * reaches the client, so logout, revocation and settings changes take effect on the very next
 * request however they are spelled.
 *
 * On a host of one of `kratos_instances` the mount is that instance's Kratos: it proxies there,
 * reads that instance's session cookie, and purges that instance's cache entries only.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import { Pool, type Dispatcher } from 'undici';
import { sendJsonError } from '../../http/json-error.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { ConfigSnapshot } from '../config-snapshot.js';
import type { SessionResolver } from '../session/session-resolver.js';
import type { KratosTenant } from '../tenancy/tenant-table.js';
import { stripHopByHop, isHopByHopResponseHeader } from '../../http/hop-by-hop.js';
import { forwardedHeaders } from '../pipeline/mutators/forwarded-headers.js';
import { arrivedEncrypted, requestIdOf, withoutPseudoHeaders } from '../../http/request.js';
import { readSmallBody, sessionTokensInBody } from './body-tokens.js';
import { forwardOnlyReadCredentials, isReadOnlyOperation, requestCredentials } from './purge-policy.js';

/** What the mount uses: Kratos's address, the current snapshot, the session cache to learn and purge identities. */
export interface KratosMountDeps {
  readonly config: Pick<GatewayConfig, 'kratos' | 'kratos_instances'>;
  /** The current configuration snapshot: read once when a request arrives. */
  readonly snapshot: ConfigSnapshot;
  /** The session cache of each Kratos: the top-level one (undefined) or a tenant's. */
  readonly resolvers: { of(tenant: KratosTenant | undefined): Pick<SessionResolver, 'resolve' | 'purgeIdentityOf' | 'purgeIdentity'> };
  readonly logger: Logger;
}

/** One Kratos behind the mount: where it is, its pool, and how its redirects are moved onto the mount. */
function mountTarget(publicUrl: string, mountUrl: string, mountPrefix: string, connections: number) {
  const kratos = new URL(publicUrl);
  const kratosBase = kratos.href.replace(/\/$/, '');
  const kratosBasePath = kratos.pathname.replace(/\/$/, '');
  const pool = new Pool(kratos.origin, { connections, keepAliveTimeout: 10_000 });

  /**
   * Kratos's own redirects are absolute (from its base URL); its router's trailing-slash
   * redirects are absolute paths as Kratos saw them (under the public URL's path). Both are
   * moved onto the mount so the browser stays on the gateway's origin and prefix.
   */
  function rewriteLocation(location: string): string {
    if (location === kratosBase || location.startsWith(kratosBase + '/') || location.startsWith(kratosBase + '?')) {
      return mountUrl + location.slice(kratosBase.length);
    }
    if (location.startsWith('/') && !location.startsWith('//')) {
      if (kratosBasePath === '') return mountPrefix + location;
      if (location.startsWith(kratosBasePath + '/') || location.startsWith(kratosBasePath + '?'))
        return mountPrefix + location.slice(kratosBasePath.length);
    }
    return location;
  }
  return { kratos, kratosBasePath, pool, rewriteLocation };
}

/**
 * HTTP/1.x announces a body by Content-Length or Transfer-Encoding. HTTP/2 frames it by DATA
 * frames up to END_STREAM, and content-length is optional there (RFC 9113 §8.1.1): a HEADERS
 * frame that did not end the stream has a body, whatever the headers say.
 */
function hasRequestBody(req: IncomingMessage, headers: IncomingHttpHeaders): boolean {
  if (req.httpVersionMajor === 2)
    return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders && headers['content-length'] !== '0';
  return 'content-length' in headers ? headers['content-length'] !== '0' : 'transfer-encoding' in headers;
}

export function createKratosMount(g: KratosMountDeps) {
  const mountPrefix = g.config.kratos.mount_prefix;
  const connections = g.config.kratos.connections;
  const top = mountTarget(g.config.kratos.public_url, g.snapshot.publicOrigin + mountPrefix, mountPrefix, connections);
  // An instance's redirects go onto the mount as a path: the browser stays on the instance's host it is on.
  const instances = new Map(
    Object.entries(g.config.kratos_instances).map(([name, k]) => [name, mountTarget(k.public_url, mountPrefix, mountPrefix, connections)]),
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const readOnly = isReadOnlyOperation(method, path);
    const originalHeaders = { ...req.headers };
    const snapshot = g.snapshot; // read once: the whole request uses the configuration it arrived under
    const tenant = snapshot.tenants?.match(req.headers.host);
    const sources = tenant?.credentialSources ?? snapshot.credentialSources;
    const resolver = g.resolvers.of(tenant);
    const { kratos, kratosBasePath, pool, rewriteLocation } = tenant === undefined ? top : instances.get(tenant.name)!;

    // Over HTTP/2 (Node's compatibility request) the headers hold the pseudo-headers too, which
    // are no header fields for Kratos.
    const headers = req.httpVersionMajor === 2 ? withoutPseudoHeaders(req.headers) : req.headers;
    const hasBody = hasRequestBody(req, headers);
    stripHopByHop(headers, snapshot.injectedHeaderNames);
    delete headers.expect;
    const requestId = requestIdOf(req);
    forwardedHeaders.mutate(headers, {
      route: undefined,
      session: undefined,
      credentialKind: undefined,
      requestId,
      peerAddress: req.socket.remoteAddress,
      peerTrusted: snapshot.trustedProxies.trusts(req.socket.remoteAddress),
      encrypted: arrivedEncrypted(req),
    });
    headers.host = kratos.host;
    forwardOnlyReadCredentials(sources, headers, originalHeaders, snapshot.sessionCookieNames);

    let body: IncomingMessage | Buffer | null = hasBody ? req : null;
    // The body of any unsafe request may name a session token (revocation, v1 API logout);
    // read it (small) so that token is purged too. GET and HEAD bodies mean nothing to Kratos.
    // A body that cannot be read the way the IdP would read it is refused, not forwarded.
    let bodyTokens: string[] = [];
    if (!readOnly && method !== 'GET' && method !== 'HEAD' && body !== null) {
      const buffered = await readSmallBody(req);
      if (buffered === undefined) return sendJsonError(res, 413, 'The request body is too large');
      const scanned = sessionTokensInBody(buffered, originalHeaders);
      if (scanned === 'unscannable')
        return sendJsonError(res, 415, 'The request body must be uncompressed UTF-8 JSON or a URL-encoded form');
      // Kratos reads one session token from a body; which of several it would take is not
      // knowable here, and looking each one up (below, one whoami per token and source) let
      // one anonymous 64 KiB form cost Kratos a thousand calls.
      if (scanned.length > 1) return sendJsonError(res, 400, 'The request body names more than one session_token');
      bodyTokens = scanned;
      body = buffered;
      headers['content-length'] = String(buffered.length);
    }

    // Learn whose sessions these are before Kratos changes them (after a revocation whoami
    // says 401). Usually a cache hit: the caller has just used the credential.
    const identities = new Set<string>();
    const credentials = readOnly ? [] : requestCredentials(sources, originalHeaders, bodyTokens);
    const known = new Set<string>();
    for (const credential of credentials) {
      if (known.has(credential.value)) continue; // the same token under another source: same identity
      const r = await resolver.resolve(credential);
      if (r.status === 'authenticated') {
        identities.add(r.session.identityId);
        known.add(credential.value);
      }
    }
    // Purged whatever Kratos answers, even a 5xx or no answer at all: a failure may come
    // after the change was committed (a revocation stored, then an error rendering the
    // response; a timeout after Kratos acted), and a needless purge costs one whoami.
    // Local entries are gone at once; awaited so that, with a shared tier, the fleet has the
    // invalidation before the client sees the response (resolves within shared.timeout_ms).
    const purge = () =>
      Promise.all([
        ...credentials.map((credential) => resolver.purgeIdentityOf(credential)),
        ...[...identities].map((identityId) => resolver.purgeIdentity(identityId)),
      ]);

    const abort = new AbortController();
    const onClientGone = () => abort.abort(new Error('client went away'));
    res.once('close', onClientGone);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await pool.request({
        path: kratosBasePath + url,
        method: method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string>,
        body,
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(30_000)]),
      });
    } finally {
      // Before any response (Kratos's or the gateway's 502/504) reaches the client.
      await purge();
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
    close: () => Promise.all([top, ...instances.values()].map((t) => t.pool.close())).then(() => undefined),
  };
}
