/** `GET /self-service/errors?error=` (Kratos's selfservice/errorx/handler.go): errors forwarded to the error UI, by id. */
import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { IdentityContext } from '../../driver/context.js';
import { invalidCsrf, notFound } from '../../x/http-error.js';
import { isUuid, queryParam } from '../../x/request-input.js';
import { sendError } from '../../x/response.js';

/** The public port reports any lookup failure as 403, the admin port as 404. */
export function mountErrors(ctx: IdentityContext, app: express.Express, publicPort: boolean): void {
  app.get('/self-service/errors', (req, res) => {
    const id = queryParam(req, 'error');
    if (id === 'stub:500') {
      const ts = ctx.clock.now().toISOString();
      res.status(200).json({
        id: randomUUID(),
        errors: [
          {
            code: 500,
            status: 'Internal Server Error',
            reason: 'This is a stub error.',
            message: 'An internal server error occurred, please contact the system administrator',
          },
        ],
        created_at: ts,
        updated_at: ts,
      });
      return;
    }
    const container = isUuid(id) ? ctx.errors.read(id, ctx.clock.now()) : undefined;
    if (container) {
      res.status(200).json(container);
      return;
    }
    sendError(res, publicPort ? invalidCsrf() : notFound());
  });
}
