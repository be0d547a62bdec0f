/** The public API (Kratos's port 4433): self-service flows, sessions, schemas, errors, health. */
import express from 'express';
import type { IdentityContext } from '../driver/context.js';
import { mountSchemas } from '../schema/handler.js';
import { mountErrors } from '../selfservice/errorx/handler.js';
import { mountLogin } from '../selfservice/flow/login/handler.js';
import { mountLogout } from '../selfservice/flow/logout/handler.js';
import { mountRegistration } from '../selfservice/flow/registration/handler.js';
import { mountSettings } from '../selfservice/flow/settings/handler.js';
import { mountRecovery } from '../selfservice/strategy/link/recovery.js';
import { mountVerification } from '../selfservice/strategy/link/verification.js';
import { handleWhoami, revokeSessionHandler } from '../session/handler.js';
import { finalHandlers, jsonBodyParsers, KRATOS_ROUTER_OPTIONS, mountHealth, routeLikeKratos } from './routing.js';

const NO_CACHE = 'private, no-cache, no-store, must-revalidate';

export function createPublicApp(ctx: IdentityContext): express.Express {
  const app = express();
  routeLikeKratos(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.all('/sessions/whoami', (req, res) => handleWhoami(ctx, req, res));
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', NO_CACHE);
    next();
  });
  app.use(...jsonBodyParsers());
  mountHealth(app, () => ctx.db.open);
  mountSchemas(ctx, app);
  mountErrors(ctx, app, true);
  app.delete('/sessions', revokeSessionHandler(ctx));
  const router = express.Router(KRATOS_ROUTER_OPTIONS);
  mountLogin(ctx, router);
  mountRegistration(ctx, router);
  mountSettings(ctx, router);
  mountRecovery(ctx, router);
  mountVerification(ctx, router);
  mountLogout(ctx, router);
  app.use(router);
  finalHandlers(ctx, app);
  return app;
}
