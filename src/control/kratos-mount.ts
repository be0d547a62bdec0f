/**
 * The Kratos public API under a prefix on the proxy port, so browser apps get same-origin
 * self-service flows. Forwarded faithfully (method, body, cookies, status); `Location`
 * headers that point at Kratos are rewritten onto the mount.
 *
 * Any request that carries a credential (a header or cookie any registered extractor reads,
 * or a `session_token` in the body) purges that credential and every cached session of its
 * identity before the response reaches the client, unless it is one of a few operations
 * known to be read-only (see READ_ONLY_GETS). So logout, revocation and settings changes
 * take effect on the very next request however they are spelled.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool, type Dispatcher } from 'undici';
import type { Credential, CredentialExtractor } from '../gateway/credentials/index.js';
import { sendJsonError } from '../http/json-error.js';
import type { GatewayCore } from '../gateway/gateway-core.js';
import { stripHopByHop, isHopByHopResponseHeader } from '../http/hop-by-hop.js';
import { forwardedHeaders } from '../gateway/mutators/forwarded-headers.js';
import { requestIdOf } from '../http/request.js';
import { canonicalizePath } from '../gateway/request-target.js';

/**
 * The only requests that leave the gateway's cached view of the caller alone: GET (HEAD is
 * the same) of operations that read or merely create a flow. Everything else that carries
 * a credential purges it and its identity. An allow-list, not a list of the mutating
 * requests, because the identity provider decides which spellings it answers: Kratos's
 * router redirects trailing-slash and wrong-case paths to the real route, and any IdP (the
 * embedded one included, once) may be laxer still. Missing an operation here costs one
 * whoami on the next request; missing a mutating spelling kept revoked credentials alive.
 *
 * Deliberately absent, because Kratos changes state on a GET there: v0.6 logout
 * (`/self-service/browser/flows/logout`) and v1 logout (`/self-service/logout`); the submit
 * endpoints `/self-service/{login,registration,settings,recovery,verification}` (a settings
 * update paused for re-authentication resumes with `GET /self-service/settings?flow=`; the
 * recovery link signs in, the verification link verifies an address; login's GET is the
 * OIDC callback); the v0.5 `/methods/link` paths; `/sessions/token-exchange`. Settings init
 * is left out too: it is read-only in Kratos, but it is rare and always credentialed, and a
 * short list is easier to keep true than a complete one.
 */
const READ_ONLY_GETS = new Set([
  '/sessions/whoami',
  '/self-service/errors',
  '/health/alive',
  '/health/ready',
  ...['login', 'registration', 'settings', 'recovery', 'verification'].map((flow) => `/self-service/${flow}/flows`),
  // Flow init never touches an existing session: with one, login and registration only
  // redirect or answer 400, and login's `?refresh=true`/`?aal=` only creates a forced flow.
  ...['login', 'registration', 'recovery', 'verification'].flatMap((flow) => [
    `/self-service/${flow}/browser`,
    `/self-service/${flow}/api`,
  ]),
]);

/**
 * The path as an allow-list comparison sees it: canonical like the proxy forwards it (dot
 * segments, repeated slashes, escapes of unreserved characters), then case-folded and without
 * trailing slashes, so every spelling a lenient router maps onto one operation compares equal.
 * Undefined when the path cannot be canonicalized (never read-only).
 */
export function purgeComparablePath(path: string): string | undefined {
  let p: string;
  try {
    p = canonicalizePath(path);
  } catch {
    return undefined;
  }
  p = p.toLowerCase();
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** True only for operations known to change neither a session nor an identity. */
export function isReadOnlyOperation(method: string, path: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const p = purgeComparablePath(path);
  if (p === undefined) return false;
  return READ_ONLY_GETS.has(p) || /^\/schemas\/[^/]+$/.test(p);
}

/**
 * Self-service and revocation bodies are a few hundred bytes. A larger body cannot be scanned
 * for a `session_token` without buffering it, so it is refused rather than forwarded unread.
 */
const MAX_SCANNED_BODY = 64 * 1024;

async function readSmallBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_SCANNED_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Folds a JSON/form field name the way Go's encoding/json matches it to a struct tag (Kratos
 * decodes `{"SESSION_TOKEN": …}` into `session_token`, and folds `ſ`→`s`, Kelvin `K`→`k`).
 * Upper-casing first maps `ſ` to `S`; lower-casing then maps `S` and the Kelvin sign alike.
 */
function foldFieldName(name: string): string {
  return name.toUpperCase().toLowerCase();
}

const SESSION_TOKEN_FIELD = 'session_token';

/**
 * Every `session_token` a request body could carry to an identity server, or `unscannable`
 * when the body is in a form the gateway cannot read the way the IdP might: a compressed body
 * (body-parser inflates gzip/deflate/br), a non-UTF-8 charset (body-parser decodes UTF-16),
 * multipart. The body is read both as JSON (BOM stripped, as body-parser does) and as a form,
 * whatever the Content-Type says, and field names are compared folded: a token seen where
 * the IdP would not look costs one needless purge; one missed keeps a revoked session alive.
 */
export function sessionTokensInBody(body: Buffer, headers: IncomingHttpHeaders): string[] | 'unscannable' {
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return 'unscannable';
  const contentType = (headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/')) return 'unscannable';
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/.exec(contentType)?.[1];
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') return 'unscannable';
  if (body.length === 0) return [];
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const tokens = new Set<string>();
  const take = (name: string, value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && foldFieldName(name) === SESSION_TOKEN_FIELD) tokens.add(value);
  };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      for (const [name, value] of Object.entries(parsed)) take(name, value);
    }
  } catch {
    // Not JSON: read as a form below.
  }
  for (const [name, value] of new URLSearchParams(text)) take(name, value);
  return [...tokens];
}

export function createKratosMount(g: GatewayCore) {
  const kratos = new URL(g.config.kratos.public_url);
  const kratosBase = kratos.href.replace(/\/$/, '');
  const kratosBasePath = kratos.pathname.replace(/\/$/, '');
  const mountPrefix = g.config.kratos.mount_prefix;
  const mountUrl = g.publicOrigin + mountPrefix;
  const pool = new Pool(kratos.origin, { connections: g.config.kratos.connections, keepAliveTimeout: 10_000 });

  /**
   * Every credential the request carries: each registered source, plus a `session_token` in
   * the body (Kratos's `DELETE /sessions` and v1's `DELETE /self-service/logout/api`), which
   * is a session token and so is tried under every source except the cookie, whose value is
   * sealed (Kratos) or signed (the embedded server) and so never a bare token.
   */
  function requestCredentials(
    sources: readonly CredentialExtractor[],
    headers: IncomingHttpHeaders,
    bodyTokens: readonly string[],
  ): Credential[] {
    const found: Credential[] = [];
    for (const source of sources) {
      const value = source.extract(headers);
      if (value !== undefined) found.push({ source, value });
    }
    for (const token of bodyTokens) {
      for (const source of sources) if (source.kind !== 'cookie') found.push({ source, value: token });
    }
    return found;
  }

  /**
   * Rewrites the credential-carrying headers so the identity server is sent exactly the
   * credentials the extractors read, which are the ones purged. The IdP's own parsing is
   * laxer in places the extractors are not (the embedded server takes `Bearer<TAB>token`,
   * Go's Header.Get takes the first of two X-Session-Token headers Node joins into one
   * unreadable value); a credential the gateway did not read must not reach the IdP at all,
   * or its revocation would go unpurged. Applies to every registered source: the headers and
   * cookies a source declares it reads are the ones it owns.
   */
  function forwardOnlyReadCredentials(
    sources: readonly CredentialExtractor[],
    headers: IncomingHttpHeaders,
    original: IncomingHttpHeaders,
  ): void {
    const cookieNames = new Set<string>();
    for (const source of sources) {
      for (const name of source.reads.headers) delete headers[name];
      for (const name of source.reads.cookies) cookieNames.add(name);
    }
    if (headers.cookie !== undefined && cookieNames.size > 0) {
      // Every pair whose name could be read as a session cookie goes, however spelled around it.
      const kept = headers.cookie.split(';').filter((pair) => {
        const eq = pair.indexOf('=');
        return !cookieNames.has((eq === -1 ? pair : pair.slice(0, eq)).trim());
      });
      const joined = kept
        .map((pair) => pair.trim())
        .filter((pair) => pair !== '')
        .join('; ');
      if (joined === '') delete headers.cookie;
      else headers.cookie = joined;
    }
    for (const source of sources) {
      const value = source.extract(original);
      if (value === undefined) continue;
      for (const [name, v] of Object.entries(source.whoamiHeaders(value))) {
        headers[name] = name === 'cookie' && headers.cookie !== undefined ? `${headers.cookie}; ${v}` : v;
      }
    }
  }

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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const readOnly = isReadOnlyOperation(method, path);
    const originalHeaders = { ...req.headers };
    const snapshot = g.snapshot; // read once: the whole request uses the configuration it arrived under
    const sources = snapshot.credentialSources;

    const headers = req.headers;
    const hasBody = 'content-length' in headers ? headers['content-length'] !== '0' : 'transfer-encoding' in headers;
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
      encrypted: false,
    });
    headers.host = kratos.host;
    forwardOnlyReadCredentials(sources, headers, originalHeaders);

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
      const r = await g.resolver.resolve(credential);
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
        ...credentials.map((credential) => g.resolver.purgeIdentityOf(credential)),
        ...[...identities].map((identityId) => g.resolver.purgeIdentity(identityId)),
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
    close: () => pool.close(),
  };
}
