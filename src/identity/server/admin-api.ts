/** The admin API (Kratos's port 4434): identities, recovery links, courier messages, health. */
import express from 'express';
import type { IdentityContext } from '../driver/context.js';
import { mountIdentities } from '../identity/handler.js';
import { mountSchemas } from '../schema/handler.js';
import { mountErrors } from '../selfservice/errorx/handler.js';
import { fetchFlowHandler } from '../selfservice/flow/handler.js';
import { createAdminRecoveryLink } from '../selfservice/strategy/link/recovery.js';
import { parseDuration } from '../x/duration.js';
import { badRequest, HttpError } from '../x/http-error.js';
import { isUuid } from '../x/request-input.js';
import { finalHandlers, jsonBodyParsers, mountHealth, routeLikeKratos } from './routing.js';

export function createAdminApp(ctx: IdentityContext): express.Express {
  const app = express();
  routeLikeKratos(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(...jsonBodyParsers());
  mountHealth(app, () => ctx.db.open);
  mountSchemas(ctx, app);
  mountErrors(ctx, app, false);

  mountIdentities(ctx, app);

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
