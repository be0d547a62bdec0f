/**
 * Finding a request's session and issuing new ones (Kratos's session/manager_http.go): the token
 * from X-Session-Token, the session cookie or a Bearer header, and the cookie set at the end of
 * login, registration and recovery.
 */
import type { Request, Response } from 'express';
import type { IdentityContext } from '../driver/context.js';
import type { IdentityRecord } from '../identity/identity.js';
import { parseCookies } from '../x/request-input.js';
import { isSessionValid, type SessionRecord } from './session.js';

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

export function issueSession(ctx: IdentityContext, identity: IdentityRecord): { token: string; session: SessionRecord } {
  const now = ctx.clock.now();
  return ctx.sessions.create(identity, now, ctx.cfg.session.lifespanMs, now);
}

/**
 * Issues a session and sets the browser's session cookie. Like Kratos, the CSRF secret is
 * rotated when the browser had no session or one of another identity, so a token captured
 * before sign-in is worthless after it; tokens masked later in this response use the new secret.
 */
export function issueBrowserSession(ctx: IdentityContext, req: Request, res: Response, identity: IdentityRecord): SessionRecord {
  const previous = sessionOf(ctx, req);
  const { token, session } = issueSession(ctx, identity);
  res.append('Set-Cookie', ctx.sessionCookie.setHeader(token, new Date(session.expires_at), ctx.clock.now()));
  if (!previous || previous.session.identity.id !== identity.id) {
    const secret = ctx.csrf.newSecret();
    (res.locals as { csrfSecret?: Buffer }).csrfSecret = secret;
    res.append('Set-Cookie', ctx.csrf.setCookieHeader(secret));
  }
  return session;
}
