import { Pool, errors as undiciErrors } from 'undici';
import type { Credential } from '../pipeline/credentials/index.js';

/** What whoami said, reduced to what the resolver acts on. */
export type WhoamiAnswer =
  | { kind: 'active'; body: unknown; cacheForMs: number | undefined; setCookie: string[] | undefined }
  | { kind: 'unauthorized'; cacheForMs: number | undefined }
  /**
   * Kratos v1+ (`session.whoami.required_aal: highest_available`): an active session that still
   * needs a second factor. `redirectBrowserTo` is Kratos's step-up login URL, unvalidated.
   */
  | { kind: 'aal2_required'; reason: string; redirectBrowserTo: string | undefined; cacheForMs: number | undefined };

/** The only 403 error id that means "step up"; any other 403 stays "no valid session". */
export const AAL2_REQUIRED = 'session_aal2_required';

/** Kratos could not give an answer. Never cached, never treated as "unauthenticated". */
export class WhoamiUnavailable extends Error {
  constructor(
    readonly reason: 'timeout' | 'connect' | 'bad_status' | 'bad_body' | 'rate_limited',
    message: string,
    readonly retryAfter?: string,
    /** For the log line: the network error code (ENOTFOUND, ECONNREFUSED…) or Kratos's status. Never a credential. */
    readonly detail: { code?: string; status?: number } = {},
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

/** `Ory-Session-Cache-For: <seconds>` (Kratos `feature_flags.cacheable_sessions`). */
function parseCacheFor(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? Math.floor(seconds * 1000) : undefined;
}

type ResponseBody = AsyncIterable<unknown> & { destroy(): unknown };
const TOO_BIG = Symbol('too big');

/** The body as JSON, or TOO_BIG (the body destroyed) past `maxBytes`; rejects as reading or JSON.parse does. */
async function readJson(body: ResponseBody, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return TOO_BIG;
    }
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A Kratos error body is a few hundred bytes; anything larger is not read as one. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * The step-up fields of a whoami 403 (`{"error":{"id":"session_aal2_required","reason",
 * "details":{"redirect_browser_to"}},"redirect_browser_to"}`), or undefined when it is not one.
 */
async function readStepUp(body: ResponseBody): Promise<{ reason: string; redirectBrowserTo: string | undefined } | undefined> {
  const parsed = await readJson(body, MAX_ERROR_BODY_BYTES);
  // TOO_BIG (a symbol) is not an object either: not a step-up.
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const top = parsed as { error?: unknown; redirect_browser_to?: unknown };
  const error = top.error as { id?: unknown; reason?: unknown; details?: { redirect_browser_to?: unknown } } | undefined;
  if (error === null || typeof error !== 'object' || error.id !== AAL2_REQUIRED) return undefined;
  const redirect = typeof top.redirect_browser_to === 'string' ? top.redirect_browser_to : error.details?.redirect_browser_to;
  return {
    reason: typeof error.reason === 'string' ? error.reason : 'The session requires a higher authenticator assurance level',
    redirectBrowserTo: typeof redirect === 'string' && redirect !== '' ? redirect : undefined,
  };
}

/**
 * Calls `GET /sessions/whoami` with only the credential. The budget is an
 * `AbortSignal.timeout`: undici's own timeouts run on ~1 s timers, too coarse here.
 */
export class KratosWhoamiClient {
  private readonly pool: Pool;
  private readonly path: string;

  constructor(
    publicUrl: string,
    private readonly timeoutMs: number,
    connections: number,
    /** `identity_assertion.tokenize_as` (Kratos v1.2+): every whoami asks for the session as this template's JWT too. */
    tokenizeAs?: string,
  ) {
    const url = new URL(publicUrl);
    this.pool = new Pool(url.origin, { connections, keepAliveTimeout: 10_000 });
    this.path =
      url.pathname.replace(/\/$/, '') +
      '/sessions/whoami' +
      (tokenizeAs === undefined ? '' : `?tokenize_as=${encodeURIComponent(tokenizeAs)}`);
  }

  /** `traceHeaders`: the whoami span's `traceparent`/`tracestate`, so Kratos continues the trace. */
  async whoami(credential: Credential, traceHeaders?: Record<string, string>): Promise<WhoamiAnswer> {
    let res;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'GET',
        headers: { accept: 'application/json', ...credential.source.whoamiHeaders(credential.value), ...traceHeaders },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.classify(err);
    }
    const { statusCode, headers, body } = res;
    if (statusCode === 403) {
      // Read only to find Kratos's error id: a 403 that is not an aal2 step-up (or whose body
      // cannot be read) is "no valid session", as every 403 was before Kratos v1.
      const stepUp = await readStepUp(body).catch(() => undefined);
      const cacheForMs = parseCacheFor(headers['ory-session-cache-for']);
      return stepUp === undefined ? { kind: 'unauthorized', cacheForMs } : { kind: 'aal2_required', ...stepUp, cacheForMs };
    }
    if (statusCode === 401) {
      body.dump().catch(() => {});
      return { kind: 'unauthorized', cacheForMs: parseCacheFor(headers['ory-session-cache-for']) };
    }
    if (statusCode === 429) {
      body.dump().catch(() => {});
      const retryAfter = typeof headers['retry-after'] === 'string' ? headers['retry-after'] : '1';
      throw new WhoamiUnavailable('rate_limited', 'Kratos rate-limited whoami', retryAfter, { status: 429 });
    }
    if (statusCode !== 200) {
      body.dump().catch(() => {});
      throw new WhoamiUnavailable('bad_status', `Kratos whoami answered ${statusCode}`, undefined, { status: statusCode });
    }
    let parsed: unknown;
    try {
      parsed = await readJson(body, MAX_BODY_BYTES);
    } catch (err) {
      throw err instanceof SyntaxError ? new WhoamiUnavailable('bad_body', 'Kratos whoami body is not JSON') : this.classify(err);
    }
    if (parsed === TOO_BIG) throw new WhoamiUnavailable('bad_body', 'Kratos whoami body exceeds 1 MiB');
    const setCookie = headers['set-cookie'];
    return {
      kind: 'active',
      body: parsed,
      cacheForMs: parseCacheFor(headers['ory-session-cache-for']),
      setCookie: setCookie === undefined ? undefined : Array.isArray(setCookie) ? setCookie : [setCookie],
    };
  }

  private classify(err: unknown): WhoamiUnavailable {
    if (err instanceof WhoamiUnavailable) return err;
    const e = err as { name?: string; code?: string; message?: string };
    if (
      e.name === 'TimeoutError' ||
      e.name === 'AbortError' ||
      err instanceof undiciErrors.HeadersTimeoutError ||
      err instanceof undiciErrors.BodyTimeoutError
    ) {
      return new WhoamiUnavailable('timeout', `Kratos whoami did not answer within ${this.timeoutMs} ms`);
    }
    // undici wraps DNS and socket errors: the code (ENOTFOUND, ECONNREFUSED) may sit on the cause.
    const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code;
    return new WhoamiUnavailable(
      'connect',
      `Kratos whoami failed: ${code ?? e.message ?? 'unknown error'}`,
      undefined,
      code === undefined ? {} : { code },
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
