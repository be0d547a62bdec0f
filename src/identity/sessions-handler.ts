/**
 * GET /sessions/whoami (any method) and DELETE /sessions. whoami is the gateway's miss path,
 * so it runs on the raw node request, before express: one prepared, indexed query per call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { IdentityContext } from './context.js';
import { badRequest, noValidSession, notFound } from './errors.js';
import { sendError, tokenFromHeaders } from './http.js';
import { isSessionValid } from './persistence/sessions.js';
import { sessionJson } from './serialize.js';

const UNAUTHORIZED_BODY = JSON.stringify(noValidSession().toJSON());

export function handleWhoami(ctx: IdentityContext, req: IncomingMessage, res: ServerResponse): void {
  const token = tokenFromHeaders(ctx, req.headers);
  const session = token ? ctx.sessions.findByToken(token) : undefined;
  if (!session || !isSessionValid(session, ctx.clock.now())) {
    res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(UNAUTHORIZED_BODY) });
    res.end(UNAUTHORIZED_BODY);
    return;
  }
  const body = JSON.stringify(sessionJson(ctx, session));
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Kratos-Authenticated-Identity-Id': session.identity.id,
  });
  res.end(body);
}

/** Revokes the session a token names; CSRF-exempt because the token itself is the credential. */
export function revokeSessionHandler(ctx: IdentityContext) {
  return (req: Request, res: Response): void => {
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null) return sendError(res, badRequest('The request body must be a JSON object with "session_token".'));
    const token = (body as { session_token?: unknown }).session_token;
    if (typeof token !== 'string' || token === '' || !ctx.sessions.revoke(token)) return sendError(res, notFound());
    res.status(204).end();
  };
}
