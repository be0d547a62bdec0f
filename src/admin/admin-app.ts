/**
 * The admin listener: health, Prometheus metrics, cache purge and the forward-auth
 * decision API. It must not be reachable by clients (loopback by default): it answers
 * "who is this" for any credential it is shown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { sendJsonError } from '../http/json-error.js';
import { JWKS_PATH, sendJwks } from '../gateway/assertion/jwks.js';
import { createDecisionHandler, type DecisionDeps } from '../gateway/transport/decision.js';
import type { SessionResolver } from '../gateway/session/session-resolver.js';
import type { KratosTenant } from '../gateway/tenancy/tenant-table.js';
import type { GatewayConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { identityServerDead, identityServerNotReady, KratosHealth, type KratosHealthDeps } from './kratos-health.js';
import { NODE_VERSION, VERSION } from '../version.js';
import { AdminHostPolicy } from './host-check.js';

/** What the admin listener uses: the decision API's and the Kratos checks' needs, the metrics registry, the cache purges. */
export interface AdminDeps extends DecisionDeps, KratosHealthDeps {
  readonly config: Pick<GatewayConfig, 'admin' | 'log' | 'kratos'>;
  readonly metrics: Pick<GatewayMetrics, 'request' | 'kratosUp' | 'kratosUpRefresh' | 'registry'>;
  readonly resolvers: {
    of(tenant: KratosTenant | undefined): Pick<SessionResolver, 'resolveNow' | 'purgeIdentity' | 'purgeCredential'>;
    /** By kratos_instances name (undefined: the top-level kratos); undefined for a name not configured. */
    named(name: string | undefined): Pick<SessionResolver, 'purgeIdentity'> | undefined;
  };
}

/**
 * What a cluster primary (src/cluster) answers for its workers: the admin listener runs only
 * there, and the data plane in the worker processes.
 */
export interface AdminClusterHooks {
  /** Metrics of this process (`g`) and every worker, aggregated. */
  metrics(g: AdminDeps): Promise<{ contentType: string; body: string }>;
  /** Why not every worker can serve (starting, replaced, draining), or undefined when all can. */
  notReady(): Record<string, unknown> | undefined;
  /** Purges the identity (of `kratos`, one of kratos_instances; undefined: the top-level kratos) in every worker too; resolves with how many entries were dropped in all. */
  purgeIdentity(g: AdminDeps, identityId: string, kratos?: string): Promise<number>;
}

/**
 * The purge endpoints' `?kratos=<name>`: which Kratos's cache entries (identity ids are per
 * Kratos); none: the top-level kratos's. Undefined (after answering 400) for anything but one
 * configured name.
 */
function chosenKratos(g: AdminDeps, req: express.Request, res: express.Response) {
  const name = req.query.kratos;
  const tenant = typeof name === 'string' ? g.snapshot.tenants?.all.find((t) => t.name === name) : undefined;
  if (name !== undefined && tenant === undefined) {
    sendJsonError(res, 400, 'kratos must name one of kratos_instances (omit it for the top-level kratos)');
    return undefined;
  }
  return { name: tenant?.name, resolver: g.resolvers.of(tenant), sources: tenant?.credentialSources ?? g.snapshot.credentialSources };
}

export function createAdminHandler(g: AdminDeps, cluster?: AdminClusterHooks) {
  const decisions = createDecisionHandler(g);
  const hosts = new AdminHostPolicy(g.config.admin.listen.host, g.config.admin.allowed_hosts);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/health/alive', (_req, res) => {
    // Only once restarting the embedded identity server was given up (kratos-health.ts).
    const down = identityServerDead(g);
    if (down) return void res.status(503).json(down);
    res.json({ status: 'ok' });
  });

  // Ready = this gateway can serve: it is listening, configured, not draining, and its own
  // embedded identity server (when enabled) is running. Kratos
  // reachability is the kratos_gateway_kratos_up gauge; it gates readiness only when
  // admin.readiness_requires_kratos is set (see kratos-health.ts for why not by default).
  const kratosHealth = new KratosHealth(g);
  app.get('/health/ready', async (_req, res) => {
    if (g.draining) return void res.status(503).json({ status: 'draining' });
    const down = identityServerNotReady(g);
    if (down) return void res.status(503).json(down);
    const workers = cluster?.notReady();
    if (workers) return void res.status(503).json(workers);
    if (!g.config.admin.readiness_requires_kratos) {
      // Not awaited: a hanging Kratos must not make the probe time out. The check still
      // runs so the gauge follows the probe period.
      void kratosHealth.check();
      return void res.json({ status: 'ok' });
    }
    const kratos = await kratosHealth.check();
    if (!kratos.up) {
      const { up: _up, ...body } = kratos;
      return void res.status(503).json(body);
    }
    res.json({ status: 'ok' });
  });

  app.get(JWKS_PATH, (req, res) => {
    const body = g.snapshot.jwksBody;
    const tokenizeAs = g.snapshot.assertion?.tokenizeAs;
    if (body === undefined && tokenizeAs !== undefined) {
      // Kratos signs (identity_assertion.tokenize_as): its keys are the template's, not the gateway's.
      return void sendJsonError(
        res,
        404,
        `The identity assertion is Kratos's JWT (identity_assertion.tokenize_as: ${tokenizeAs}): verify it with the public keys of that template's jwks_url in Kratos's configuration`,
      );
    }
    if (body === undefined) return void sendJsonError(res, 404, 'The identity assertion is not enabled');
    sendJwks(req, res, body);
  });

  app.get('/version', (_req, res) => {
    res.json({ version: VERSION, node_version: NODE_VERSION });
  });

  app.get('/metrics', async (_req, res) => {
    const m = cluster
      ? await cluster.metrics(g)
      : { contentType: g.metrics.registry.contentType, body: await g.metrics.registry.metrics() };
    res.setHeader('content-type', m.contentType);
    res.end(m.body);
  });

  // After revoking sessions through the Kratos admin API, drop what the gateway cached.
  // Answered once the purge is fleet-wide (with a shared tier: Redis has the invalidation, or
  // gave up within session_cache.shared.timeout_ms and it is queued for when Redis is back).
  // `?kratos=<name>`: an identity of that one of kratos_instances (identity ids are per Kratos);
  // without it, of the top-level kratos.
  app.delete('/sessions/cache/identities/:id', async (req, res) => {
    const id = req.params.id;
    const kratos = chosenKratos(g, req, res);
    if (kratos === undefined) return;
    const purged = await (cluster ? cluster.purgeIdentity(g, id, kratos.name) : kratos.resolver.purgeIdentity(id));
    res.json({ identity_id: id, ...(kratos.name !== undefined && { kratos: kratos.name }), purged });
  });

  // One credential (a leaked token, a session revoked at Kratos): the caller sends it as a
  // client would (X-Session-Token, Authorization: Bearer, the session cookie), read by the same
  // credential sources as the proxy. The value is purged as every source would have read it
  // (cache keys include the source), so it does not matter which spelling clients used.
  app.delete('/sessions/cache/credential', async (req, res) => {
    const kratos = chosenKratos(g, req, res);
    if (kratos === undefined) return;
    // An instance's session cookie may have its own name.
    const { sources, resolver } = kratos;
    const values = new Set(sources.map((source) => source.extract(req.headers)).filter((v) => v !== undefined));
    if (values.size === 0)
      return void sendJsonError(res, 400, 'Send the credential to purge as X-Session-Token, Authorization: Bearer or the session cookie');
    await Promise.all([...values].flatMap((value) => sources.map((source) => resolver.purgeCredential({ source, value }))));
    res.json({ purged: values.size });
  });

  app.use((_req, res) => sendJsonError(res, 404, 'The requested resource could not be found'));

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    // Forward-auth proxies send the protected site's Host (nginx `proxy_set_header Host $host`,
    // Envoy ext_authz by default) and the decision API routes on it, so it is exempt. Rebinding
    // gains nothing there: the browser attaches only the attacker's own cookies, and the
    // decision API answers only for the credential it is shown.
    if (decisions.owns(url)) return decisions.handle(req, res);
    if (!hosts.allows(req.headers.host)) {
      return sendJsonError(res, 421, 'This admin listener does not answer for that host; add it to admin.allowed_hosts', {
        connection: 'close',
      });
    }
    app(req as express.Request, res as express.Response);
  };
}
