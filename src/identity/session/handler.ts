/**
 * GET /sessions/whoami (any method) and DELETE /sessions. whoami is the gateway's miss path,
 * so it runs on the raw node request, before express: one prepared, indexed query per call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { IdentityContext } from '../driver/context.js';
import type { SessionRow } from '../persistence/session-repository.js';
import { badRequest, noValidSession, notFound } from '../x/http-error.js';
import { sendError } from '../x/response.js';
import { tokenFromHeaders } from './manager.js';

const UNAUTHORIZED_BODY = JSON.stringify(noValidSession().toJSON());

const q = JSON.stringify;

/**
 * The Session JSON (the same document session.ts builds) spliced from the row: traits and
 * address lists are already JSON text in the database, so they are not parsed and re-encoded
 * on this hot path. A test checks both serialisations agree.
 */
export function whoamiBody(publicBase: string, row: SessionRow): string {
  const addresses =
    (row.va === '[]' ? '' : `,"verifiable_addresses":${row.va}`) + (row.ra === '[]' ? '' : `,"recovery_addresses":${row.ra}`);
  return (
    `{"id":${q(row.s_id)},"active":true,"expires_at":${q(row.s_expires_at)},"authenticated_at":${q(row.s_authenticated_at)},` +
    `"issued_at":${q(row.s_issued_at)},"identity":{"id":${q(row.id)},"schema_id":${q(row.schema_id)},` +
    `"schema_url":${q(`${publicBase}/schemas/${row.schema_id}`)},"traits":${row.traits}${addresses},` +
    `"created_at":${q(row.created_at)},"updated_at":${q(row.updated_at)}}}`
  );
}

export function handleWhoami(ctx: IdentityContext, req: IncomingMessage, res: ServerResponse): void {
  const token = tokenFromHeaders(ctx, req.headers);
  const row = token ? ctx.sessions.findRowByToken(token) : undefined;
  if (!row || row.s_active !== 1 || Date.parse(row.s_expires_at) <= ctx.clock.now().getTime()) {
    res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(UNAUTHORIZED_BODY) });
    res.end(UNAUTHORIZED_BODY);
    return;
  }
  const body = whoamiBody(ctx.publicBase, row);
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Kratos-Authenticated-Identity-Id': row.id,
  });
  res.end(body);
}

/** Revokes the session a token names; CSRF-exempt because the token itself is the credential. */
export function revokeSessionHandler(ctx: IdentityContext) {
  return (req: Request, res: Response): void => {
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null)
      return sendError(res, badRequest('The request body must be a JSON object with "session_token".'));
    const token = (body as { session_token?: unknown }).session_token;
    if (typeof token !== 'string' || token === '' || !ctx.sessions.revoke(token)) return sendError(res, notFound());
    res.status(204).end();
  };
}
