/**
 * Which requests through the Kratos mount purge what. Any request that carries a credential
 * (a header or cookie any registered extractor reads, or a `session_token` in the body) purges
 * that credential and every cached session of its identity, unless it is one of a few
 * operations known to be read-only (see READ_ONLY_GETS); and the identity server is sent only
 * the credentials the gateway read, so none it acts on goes unpurged.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Credential, CredentialExtractor } from '../pipeline/credentials/index.js';
import { canonicalizePath } from '../request-target.js';

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
 * Every credential the request carries: each registered source, plus a `session_token` in
 * the body (Kratos's `DELETE /sessions` and v1's `DELETE /self-service/logout/api`), which
 * is a session token and so is tried under every source except the cookie, whose value is
 * sealed (Kratos) or signed (the embedded server) and so never a bare token.
 */
export function requestCredentials(
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
export function forwardOnlyReadCredentials(
  sources: readonly CredentialExtractor[],
  headers: IncomingHttpHeaders,
  original: IncomingHttpHeaders,
  /**
   * Every Kratos session cookie name the gateway knows (snapshot.sessionCookieNames): with
   * kratos_instances, another Kratos's session cookie is a credential of another identity
   * provider, removed as the proxy removes it from upstream requests.
   */
  sessionCookieNames: ReadonlySet<string>,
): void {
  const cookieNames = new Set<string>(sessionCookieNames);
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
