/**
 * Starts the embedded Kratos v0.6-compatible identity server: public and admin listeners over
 * one SQLite database, on the caller's event loop (thread.ts runs it on a worker thread).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.js';
import { CourierService } from '../courier/service.js';
import { loadKratosConfig } from '../driver/config/config.js';
import type { IdentityContext } from '../driver/context.js';
import { PasswordHasher } from '../hash/hasher.js';
import { CourierStore } from '../persistence/courier-store.js';
import { openDatabase } from '../persistence/db.js';
import { FlowStore } from '../persistence/flow-store.js';
import { IdentityStore } from '../persistence/identity-store.js';
import { Janitor } from '../persistence/janitor.js';
import { LinkTokenStore } from '../persistence/link-token-store.js';
import { SelfServiceErrorStore } from '../persistence/selfservice-error-store.js';
import { SessionRepository } from '../persistence/session-repository.js';
import { IdentitySchemas } from '../schema/traits.js';
import { SessionCookie } from '../session/cookie.js';
import { handleWhoami } from '../session/handler.js';
import { systemClock, type Clock } from '../x/clock.js';
import { Cors } from '../x/cors.js';
import { CsrfProtection } from '../x/nosurf.js';
import { createAdminApp } from './admin-api.js';
import { createPublicApp } from './public-api.js';

export interface IdentityServerOptions {
  /** Parsed kratos.yml (Kratos key names); validated here. */
  config: unknown;
  publicListen: { host: string; port: number };
  adminListen: { host: string; port: number };
  /** 'sqlite://./data/kratos.sqlite' | 'sqlite://:memory:' | 'memory' | ':memory:' */
  dsn: string;
  logger: Logger;
  clock?: Clock;
  /** Folder that relative `file://` schema URLs resolve against (the config file's folder); default: cwd. */
  configDir?: string;
}

export interface IdentityServer {
  publicUrl: string;
  adminUrl: string;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shown =
        addr.address === '0.0.0.0'
          ? '127.0.0.1'
          : addr.address === '::'
            ? '[::1]'
            : addr.family === 'IPv6'
              ? `[${addr.address}]`
              : addr.address;
      resolve(`http://${shown}:${addr.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startIdentityServer(opts: IdentityServerOptions): Promise<IdentityServer> {
  const { config, warnings } = loadKratosConfig(opts.config, opts.configDir ? { baseDir: opts.configDir } : {});
  const logger = opts.logger.child({ component: 'identity' });
  for (const w of warnings) logger.warn(`kratos config: ${w}`);
  const schemas = new IdentitySchemas(config.schemas);
  const clock = opts.clock ?? systemClock;
  const db = openDatabase(opts.dsn);

  const publicServer = createServer();
  const adminServer = createServer();
  // Node's default keep-alive timeout (5s) is shorter than most proxies'; a proxy reusing a
  // connection we just closed would see spurious resets.
  publicServer.keepAliveTimeout = 65_000;
  let publicUrl: string;
  let adminUrl: string;
  try {
    publicUrl = await listen(publicServer, opts.publicListen.host, opts.publicListen.port);
    adminUrl = await listen(adminServer, opts.adminListen.host, opts.adminListen.port);
  } catch (err) {
    await closeServer(publicServer);
    db.close();
    throw err;
  }

  const publicBase = (config.publicBaseUrl ?? `${publicUrl}/`).replace(/\/+$/, '');
  const courierStore = new CourierStore(db);
  const ctx: IdentityContext = {
    cfg: config,
    publicBase,
    clock,
    logger,
    db,
    identities: new IdentityStore(db),
    sessions: new SessionRepository(db),
    flows: new FlowStore(db),
    tokens: new LinkTokenStore(db, config.cookieSecrets),
    errors: new SelfServiceErrorStore(db),
    courier: new CourierService(courierStore, clock, logger, config.courier.smtpUri, config.courier.from),
    schemas,
    hasher: new PasswordHasher(config.hashers.argon2),
    // The CSRF cookie name is derived from the configured URL string as written (trailing slash included).
    csrf: new CsrfProtection(config.publicBaseUrl ?? `${publicUrl}/`),
    sessionCookie: new SessionCookie(config.session, config.cookieSecrets, publicBase),
  };

  const publicApp = createPublicApp(ctx);
  const adminApp = createAdminApp(ctx);
  // Kratos wraps the whole public handler in rs/cors, so every answer (whoami, errors, 404s) carries it.
  const cors = config.publicCors.enabled
    ? new Cors(config.publicCors, config.publicCors.debug ? (line) => logger.info(`[cors] ${line.trim()}`) : undefined)
    : undefined;
  publicServer.on('request', (req, res) => {
    if (cors?.handle(req, res)) return;
    const url = req.url ?? '';
    // The gateway's miss path skips express entirely.
    if (url === '/sessions/whoami' || url.startsWith('/sessions/whoami?')) return handleWhoami(ctx, req, res);
    publicApp(req, res);
  });
  adminServer.on('request', adminApp);
  const janitor = new Janitor(db, clock, logger);
  janitor.start();
  logger.info({ public_url: publicUrl, admin_url: adminUrl, public_base_url: publicBase }, 'identity server listening');

  let closed: Promise<void> | undefined;
  return {
    publicUrl,
    adminUrl,
    close() {
      closed ??= (async () => {
        await Promise.all([closeServer(publicServer), closeServer(adminServer)]);
        janitor.stop();
        ctx.courier.close();
        db.close();
      })();
      return closed;
    },
  };
}
