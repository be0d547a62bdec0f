/**
 * What both listeners share (Kratos's x/router.go and the negroni stack around it): routing like
 * httprouter, body parsers, health endpoints, and the handlers that end every request nothing
 * else answered.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IdentityContext } from '../driver/context.js';
import { badRequest, HttpError, toHttpError } from '../x/http-error.js';
import { sendError } from '../x/response.js';

export function mountHealth(app: express.Express, ready: () => boolean): void {
  app.get('/health/alive', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/health/ready', (_req, res) => {
    if (ready()) res.status(200).json({ status: 'ok' });
    else res.status(503).json({ errors: { database: 'not ready' } });
  });
}

/**
 * Route like Kratos's router (julienschmidt/httprouter), not like express's lenient default:
 * case-sensitive paths, and a trailing slash is a different path (answered by the redirect in
 * finalHandlers). Must run before the app's first route: express builds its router lazily
 * from these settings. A lenient server acts on spellings (`/Logout`, `/logout/`) that a
 * gateway in front of it would have to guess; Kratos does not.
 */
export function routeLikeKratos(app: express.Express): void {
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
}

/** Options for every express.Router inside an app set up by routeLikeKratos (routers do not inherit them). */
export const KRATOS_ROUTER_OPTIONS = { caseSensitive: true, strict: true } as const;

/**
 * httprouter's RedirectTrailingSlash, for a path that matched nothing: 301 for GET, 307 for
 * every other method (HEAD included), so a client repeats the same request at the route.
 * httprouter (v1.3, as Kratos pins it) only strips one slash and only when the slashless
 * route exists; this redirects unconditionally, and an unknown path ends in a 404 one hop
 * later. Wrong-case paths get no redirect here (httprouter's RedirectFixedPath would send
 * one): a 404 is never less safe, and the gateway treats every spelling alike anyway.
 * Undefined when there is nothing to redirect, or when the target would not stay on this
 * server (`//host` or `/\host` is protocol-relative to a browser).
 */
function trailingSlashRedirect(originalUrl: string): string | undefined {
  const q = originalUrl.indexOf('?');
  const path = q === -1 ? originalUrl : originalUrl.slice(0, q);
  if (path.length <= 1 || !path.endsWith('/')) return undefined;
  const target = path.slice(0, -1);
  // Only a path on this server: not `//host` or `/\host`, and not an absolute-form request
  // target (`GET http://host/x/`), which Node passes through as the URL and would be an
  // off-site Location.
  if (!/^\/(?![/\\])/.test(target)) return undefined;
  return target + (q === -1 ? '' : originalUrl.slice(q));
}

export function jsonBodyParsers() {
  return [express.json({ limit: '1mb' }), express.urlencoded({ extended: false, limit: '1mb' })];
}

export function finalHandlers(ctx: IdentityContext, app: express.Express): void {
  app.use((req: Request, res: Response) => {
    const location = trailingSlashRedirect(req.originalUrl);
    if (location === undefined) return sendError(res, new HttpError(404));
    res
      .status(req.method === 'GET' ? 301 : 307)
      .location(location)
      .end();
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // body-parser errors carry a 4xx status (malformed JSON, body too large).
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, badRequest((err as Error).message));
    const e = toHttpError(err);
    if (e.code >= 500) ctx.logger.error({ err }, 'identity server: unhandled error');
    sendError(res, e);
  });
}
