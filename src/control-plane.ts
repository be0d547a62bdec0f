/**
 * The control plane on the proxy port: an express app for everything that is not the hot
 * proxy path (the Kratos public API mount, the self-service UI). The hot path hands it
 * requests whose canonical path falls under one of its prefixes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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

export function createControlPlane(g: KratosMountDeps, extraMounts: readonly ControlMount[]): ControlPlane & { close(): Promise<void> } {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);

  const owners: Array<(p: string) => boolean> = [];
  const mountPrefix = g.config.kratos.mount_prefix;
  const mount = mountPrefix === '' ? undefined : createKratosMount(g);
  if (mount) {
    app.use(mountPrefix, mount.handler);
    owners.push(ownsPrefix(mountPrefix));
  }
  for (const m of extraMounts) {
    app.use(m.prefix, m.router);
    owners.push(ownsPrefix(m.prefix));
  }
  app.use((_req, res) => sendJsonError(res, 404, 'The requested resource could not be found'));
  // express 5 routes async errors here; answer JSON rather than express's HTML page.
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    g.logger.error({ err: { message: (err as Error).message } }, 'control plane error');
    const status = (err as { status?: number }).status;
    sendJsonError(res, typeof status === 'number' && status >= 400 && status < 500 ? status : 500, 'The request could not be handled');
  });

  return {
    owns: (p) => owners.some((own) => own(p)),
    handle: (req: IncomingMessage, res: ServerResponse) => app(req as express.Request, res as express.Response),
    close: async () => {
      await mount?.close();
    },
  };
}
