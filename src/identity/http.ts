/** Request helpers shared by the public and admin handlers. */
import type { Request, Response } from 'express';
import { parseCookies } from './cookies.js';
import type { IdentityContext } from './context.js';
import { HttpError } from './errors.js';
import { isSessionValid, type SessionRecord } from './persistence/sessions.js';

/** The URL as the server saw it: scheme from TLS, host from Host, query included (Kratos's request_url). */
export function requestUrl(req: Request): string {
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.originalUrl}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Form keys nest on dots (`traits.email`), and JSON bodies may use either form, as Kratos's
 * decoder accepts both.
 */
export function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!isObject(body)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const parts = key.split('.');
    let cur = out;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) {
        cur[p] = isObject(value) && isObject(cur[p]) ? { ...(cur[p] as object), ...value } : value;
      } else {
        if (!isObject(cur[p])) cur[p] = {};
        cur = cur[p] as Record<string, unknown>;
      }
    });
  }
  return out;
}

export function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  return typeof v === 'string' ? v : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID.test(v);
}

export function queryParam(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

export function redirect(res: Response, location: string): void {
  res.status(302).location(location).end();
}

export function sendError(res: Response, err: HttpError): void {
  res.status(err.code).json(err.toJSON());
}

/**
 * The session token a request carries, in Kratos's order: X-Session-Token (exclusively when
 * present), then the session cookie, then `Authorization: Bearer`.
 */
export function tokenFromHeaders(ctx: IdentityContext, headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-session-token'];
  // An empty header counts as absent, as in Kratos (len(token) > 0).
  if (typeof header === 'string' && header !== '') return header;
  const cookieHeader = headers.cookie;
  if (typeof cookieHeader === 'string') {
    const token = ctx.sessionCookie.decode(parseCookies(cookieHeader)[ctx.sessionCookie.name]);
    if (token) return token;
  }
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** The active, unexpired session of a request, if any. */
export function sessionOf(ctx: IdentityContext, req: Request): { token: string; session: SessionRecord } | undefined {
  const token = tokenFromHeaders(ctx, req.headers);
  if (!token) return undefined;
  const session = ctx.sessions.findByToken(token);
  if (!session || !isSessionValid(session, ctx.clock.now())) return undefined;
  return { token, session };
}
