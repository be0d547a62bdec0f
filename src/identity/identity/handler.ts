/**
 * The admin identity API (Kratos's identity/handler.go): list, create, get, update and delete
 * identities, their traits validated against the identity schema.
 */
import type express from 'express';
import type { IdentityContext } from '../driver/context.js';
import { badRequest, notFound } from '../x/http-error.js';
import { isUuid } from '../x/request-input.js';
import { sendError } from '../x/response.js';
import { identityJson } from './identity.js';

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

export function mountIdentities(ctx: IdentityContext, app: express.Express): void {
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
}
