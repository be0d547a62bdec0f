/**
 * The self-service UI per Kratos: on one of an instance's hosts its pages are that instance's
 * flows, read from that Kratos (with the browser's cookies, which belong to it) and starting
 * flows at that host's own mount. One UI for every host would read a tenant's flows from the
 * top-level Kratos (unknown there: the browser was sent to sign in at the wrong Kratos) and
 * hand the tenant's cookies, its session among them, to a Kratos they do not belong to; its
 * logout link would end no session of the tenant's.
 */
import express, { type Router } from 'express';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createSelfServiceUi } from './index.js';
import type { ConfigSnapshot } from '../gateway/config-snapshot.js';

export interface TenantUiDeps {
  readonly config: Pick<GatewayConfig, 'ui' | 'kratos' | 'kratos_instances'>;
  /** Where browsers reach the gateway (proxy.public_base_url's origin): the top-level kratos's mount is there. */
  readonly publicOrigin: string;
  /** The current configuration snapshot: its host table picks the Kratos. */
  readonly current: { readonly snapshot: ConfigSnapshot };
  readonly logger: Logger;
}

export function selfServiceUiPerKratos(g: TenantUiDeps): Router {
  const { prefix } = g.config.ui;
  const mountPrefix = g.config.kratos.mount_prefix;
  const top = createSelfServiceUi({
    prefix,
    kratosPublicUrl: g.config.kratos.public_url,
    browserKratosUrl: g.publicOrigin + mountPrefix,
    logger: g.logger,
  });
  const names = Object.keys(g.config.kratos_instances);
  if (names.length === 0) return top;
  // An instance's mount as a path: the browser stays on the instance's host it is on (as the
  // mount's own redirects for an instance do, and its login location: tenant-login.ts).
  const byName = new Map(
    Object.entries(g.config.kratos_instances).map(([name, k]) => [
      name,
      createSelfServiceUi({ prefix, kratosPublicUrl: k.public_url, browserKratosUrl: mountPrefix, logger: g.logger }),
    ]),
  );
  const router = express.Router();
  router.use((req, res, next) => {
    const tenant = g.current.snapshot.tenants?.match(req.headers.host);
    (tenant === undefined ? top : byName.get(tenant.name)!)(req, res, next);
  });
  return router;
}
