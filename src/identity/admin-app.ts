/** The admin API (Kratos's port 4434): identities, recovery links, courier messages, health. */
import express from 'express';
import type { IdentityContext } from './context.js';
import { parseDuration } from './duration.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { fetchFlowHandler } from './flows/common.js';
import { createAdminRecoveryLink } from './flows/recovery.js';
import { finalHandlers, jsonBodyParsers, mountErrors, mountHealth, mountSchemas, routeLikeKratos } from './public-app.js';
import { identityJson } from './serialize.js';
import { isUuid, sendError } from './http.js';

function traitsBody(ctx: IdentityContext, body: unknown, requireSchema: boolean): { schemaId?: string; traits: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null) throw badRequest('The request body must be a JSON object.');
  const { schema_id: schemaId, traits } = body as { schema_id?: unknown; traits?: unknown };
  if (schemaId !== undefined && (typeof schemaId !== 'string' || !ctx.schemas.has(schemaId))) {
    throw badRequest(`Unknown identity schema ${JSON.stringify(schemaId)}.`);
  }
  if (requireSchema && schemaId === undefined && !ctx.schemas.has(ctx.cfg.defaultSchemaId)) throw badRequest('schema_id is required.');
  if (typeof traits !== 'object' || traits === null || Array.isArray(traits)) throw badRequest('traits must be a JSON object.');
  return { ...(schemaId !== undefined ? { schemaId } : {}), traits: traits as Record<string, unknown> };
}

function validateTraits(ctx: IdentityContext, schemaId: string, traits: Record<string, unknown>) {
  const issues = ctx.schemas.validate(schemaId, traits);
  if (issues.length > 0) throw badRequest(issues.map((i) => `${i.field ?? 'traits'}: ${i.message.text}`).join('; '));
  return ctx.schemas.derive(schemaId, traits);
}

export function createAdminApp(ctx: IdentityContext): express.Express {
  const app = express();
  routeLikeKratos(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(...jsonBodyParsers());
  mountHealth(app, () => ctx.db.open);
  mountSchemas(ctx, app);
  mountErrors(ctx, app, false);

  app.get('/identities', (req, res) => {
    const page = Math.max(0, Number.parseInt(String(req.query.page ?? '0'), 10) || 0);
    const perPage = Math.min(500, Math.max(1, Number.parseInt(String(req.query.per_page ?? '100'), 10) || 100));
    res.status(200).json(ctx.identities.list(page, perPage).map((i) => identityJson(ctx, i)));
  });

  app.post('/identities', (req, res) => {
    const { schemaId = ctx.cfg.defaultSchemaId, traits } = traitsBody(ctx, req.body, true);
    const derived = validateTraits(ctx, schemaId, traits);
    const identity = ctx.identities.create({ schemaId, traits, derived }, ctx.clock.now());
    res.status(201).location(`/identities/${identity.id}`).json(identityJson(ctx, identity));
  });

  app.get('/identities/:id', (req, res) => {
    const identity = isUuid(req.params.id) ? ctx.identities.get(req.params.id) : undefined;
    if (!identity) return sendError(res, notFound());
    res.status(200).json(identityJson(ctx, identity));
  });

  app.put('/identities/:id', (req, res) => {
    const existing = isUuid(req.params.id) ? ctx.identities.get(req.params.id) : undefined;
    if (!existing) return sendError(res, notFound());
    const { schemaId = existing.schema_id, traits } = traitsBody(ctx, req.body, false);
    const derived = validateTraits(ctx, schemaId, traits);
    res.status(200).json(identityJson(ctx, ctx.identities.update(existing.id, { schemaId, traits, derived }, ctx.clock.now())));
  });

  app.delete('/identities/:id', (req, res) => {
    if (!isUuid(req.params.id) || !ctx.identities.delete(req.params.id)) return sendError(res, notFound());
    res.status(204).end();
  });

  app.post('/recovery/link', (req, res) => {
    const body = (req.body ?? {}) as { identity_id?: unknown; expires_in?: unknown };
    if (!isUuid(body.identity_id)) throw badRequest('identity_id must be a UUID.');
    let expiresIn: number | undefined;
    if (body.expires_in !== undefined) {
      expiresIn = typeof body.expires_in === 'string' ? parseDuration(body.expires_in) : undefined;
      if (expiresIn === undefined) throw badRequest('expires_in must be a duration like "1h" or "30m".');
    }
    if (!ctx.cfg.flows.recovery.enabled) throw new HttpError(400, 'Recovery is not allowed because it was disabled.');
    res.status(200).json(createAdminRecoveryLink(ctx, body.identity_id, expiresIn));
  });

  // The API version this server is compatible with, which is what clients use this for.
  app.get('/version', (_req, res) => {
    res.status(200).json({ version: 'v0.6.3-alpha.1' });
  });

  app.get('/courier/messages', (_req, res) => {
    res.status(200).json(ctx.courier.list());
  });

  // Settings too: on the admin port Kratos v0.6 (settings/handler.go fetchAdminFlow) returns the
  // flow by id without a session or ownership check, and the official self-service UI relies on
  // it. Unknown ids are 404 here (the public port says 403 to hide them), expired ones 410.
  for (const kind of ['login', 'registration', 'settings', 'recovery', 'verification'] as const) {
    app.get(`/self-service/${kind}/flows`, fetchFlowHandler(ctx, { kind }));
  }

  finalHandlers(ctx, app);
  return app;
}
