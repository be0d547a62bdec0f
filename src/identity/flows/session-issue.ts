/** Issuing a session at the end of login, registration and recovery. */
import type { Response } from 'express';
import type { IdentityContext } from '../context.js';
import type { IdentityRecord } from '../persistence/identities.js';
import type { SessionRecord } from '../persistence/sessions.js';

export function issueSession(ctx: IdentityContext, identity: IdentityRecord): { token: string; session: SessionRecord } {
  const now = ctx.clock.now();
  return ctx.sessions.create(identity, now, ctx.cfg.session.lifespanMs, now);
}

/** Issues a session and sets the browser's session cookie. */
export function issueBrowserSession(ctx: IdentityContext, res: Response, identity: IdentityRecord): SessionRecord {
  const { token, session } = issueSession(ctx, identity);
  res.append('Set-Cookie', ctx.sessionCookie.setHeader(token, new Date(session.expires_at)));
  return session;
}
