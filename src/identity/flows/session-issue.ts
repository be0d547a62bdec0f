/** Issuing a session at the end of login, registration and recovery. */
import type { Request, Response } from 'express';
import type { IdentityContext } from '../context.js';
import { sessionOf } from '../http.js';
import type { IdentityRecord } from '../persistence/identities.js';
import type { SessionRecord } from '../persistence/sessions.js';

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
