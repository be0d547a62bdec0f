/** `GET /schemas/{id}` on both ports (Kratos's schema/handler.go): the identity schema file, byte for byte. */
import type express from 'express';
import type { IdentityContext } from '../driver/context.js';
import { notFound } from '../x/http-error.js';
import { sendError } from '../x/response.js';

export function mountSchemas(ctx: IdentityContext, app: express.Express): void {
  app.get('/schemas/:id', (req, res) => {
    const raw = ctx.schemas.raw(String(req.params.id));
    if (raw === undefined) return sendError(res, notFound());
    res.status(200).type('application/json').send(raw);
  });
}
