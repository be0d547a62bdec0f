/**
 * The control plane on the proxy port: an express app for everything that is not the hot
 * proxy path (the Kratos public API mount, the self-service UI). The hot path hands it
 * requests whose canonical path falls under one of its prefixes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import express, { type Router } from 'express';
import type { ControlPlane } from './gateway/transport/http.js';
import { sendJsonError } from './http/json-error.js';
import { createKratosMount, type KratosMountDeps } from './gateway/kratos-mount/mount.js';

export interface ControlMount {
  prefix: string;
  router: Router;
}

function ownsPrefix(prefix: string): (p: string) => boolean {
  const withSlash = prefix + '/';
  return (p) => p === prefix || p.startsWith(withSlash);
}

/**
 * An express app whose request and response objects are the HTTP/2 compatibility API's
 * (Http2ServerRequest/Response): express replaces the prototype of what it is given with its
 * own, built on http.IncomingMessage, which an HTTP/2 request is not. Here its methods sit on the
 * HTTP/2 classes instead, so the same middleware serves both protocols.
 */
function http2App(): express.Express {
  const app = express();
  const own = (proto: object) =>
    Object.create(proto, { app: { configurable: true, enumerable: true, writable: true, value: app } }) as object;
  app.request = own(Object.create(Http2ServerRequest.prototype, Object.getOwnPropertyDescriptors(express.request))) as express.Request;
  app.response = own(Object.create(Http2ServerResponse.prototype, Object.getOwnPropertyDescriptors(express.response))) as express.Response;
  return app;
}

export function createControlPlane(g: KratosMountDeps, extraMounts: readonly ControlMount[]): ControlPlane & { close(): Promise<void> } {
  const owners: Array<(p: string) => boolean> = [];
  const mountPrefix = g.config.kratos.mount_prefix;
  const mount = mountPrefix === '' ? undefined : createKratosMount(g);
  if (mount) owners.push(ownsPrefix(mountPrefix));
  for (const m of extraMounts) owners.push(ownsPrefix(m.prefix));

  // One configuration, applied to the HTTP/1.1 app and the HTTP/2 one.
  const configure = (app: express.Express) => {
    app.disable('x-powered-by');
    app.set('etag', false);
    app.set('trust proxy', false);
    if (mount) app.use(mountPrefix, mount.handler);
    for (const m of extraMounts) app.use(m.prefix, m.router);
    app.use((_req, res) => sendJsonError(res, 404, 'The requested resource could not be found'));
    // express 5 routes async errors here; answer JSON rather than express's HTML page.
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      g.logger.error({ err: { message: (err as Error).message } }, 'control plane error');
      const status = (err as { status?: number }).status;
      sendJsonError(res, typeof status === 'number' && status >= 400 && status < 500 ? status : 500, 'The request could not be handled');
    });
    return app;
  };
  const app = configure(express());
  const app2 = configure(http2App());

  return {
    owns: (p) => owners.some((own) => own(p)),
    handle: (req: IncomingMessage, res: ServerResponse) => app(req as express.Request, res as express.Response),
    handleHttp2: (req: Http2ServerRequest, res: Http2ServerResponse) =>
      app2(req as unknown as express.Request, res as unknown as express.Response),
    close: async () => {
      await mount?.close();
    },
  };
}
