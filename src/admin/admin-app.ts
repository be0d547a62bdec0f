/**
 * The admin listener: health, Prometheus metrics, cache purge and the forward-auth
 * decision API. It must not be reachable by clients (loopback by default): it answers
 * "who is this" for any credential it is shown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { request } from 'undici';
import type { GatewayCore } from '../gateway/gateway-core.js';
import { sendJsonError } from '../gateway/errors/json-error.js';
import { createDecisionHandler } from './decisions.js';

export function createAdminHandler(g: GatewayCore) {
  const decisions = createDecisionHandler(g);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/health/alive', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready = not draining and Kratos answers. Kubernetes stops routing to a draining pod.
  app.get('/health/ready', async (_req, res) => {
    if (g.draining) return void res.status(503).json({ status: 'draining' });
    try {
      const kratos = await request(new URL('health/alive', g.config.kratos.public_url.replace(/\/?$/, '/')), {
        signal: AbortSignal.timeout(Math.min(2_000, g.config.kratos.whoami_timeout_ms * 2)),
      });
      await kratos.body.dump();
      if (kratos.statusCode !== 200) return void res.status(503).json({ status: 'kratos_unhealthy', kratos_status: kratos.statusCode });
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'kratos_unreachable' });
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', g.metrics.registry.contentType);
    res.end(await g.metrics.registry.metrics());
  });

  // After revoking sessions through the Kratos admin API, drop what the gateway cached.
  app.delete('/sessions/cache/identities/:id', (req, res) => {
    const purged = g.resolver.purgeIdentity(req.params.id);
    res.json({ identity_id: req.params.id, purged });
  });

  app.use((_req, res) => sendJsonError(res, 404, 'The requested resource could not be found'));

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (decisions.owns(url)) return decisions.handle(req, res);
    app(req as express.Request, res as express.Response);
  };
}
