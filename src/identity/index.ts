/**
 * The embedded Kratos v0.6-compatible identity server, laid out along Kratos's own packages
 * (server/ hosts it, driver/ holds its configuration and registry, selfservice/ its flows and
 * methods, session/, identity/, schema/, courier/, persistence/, and x/ the shared helpers).
 *
 * The rest of the gateway imports it only through this file. Loading it loads neither SQLite
 * nor the HTTP handlers (startIdentityServer loads them on its first call), so the gateway's
 * thread can supervise a server that runs on a worker thread without carrying its code.
 */
import type { IdentityServer, IdentityServerOptions } from './server/server.js';

export type { IdentityServer, IdentityServerOptions } from './server/server.js';
export { loadKratosConfig, type KratosConfig } from './driver/config/config.js';
export { KratosConfigError } from './driver/config/config-error.js';
export { systemClock, SettableClock, type Clock } from './x/clock.js';
export {
  DEFAULT_RESTART_POLICY,
  restartDelay,
  superviseIdentityServer,
  type IdentityThreadState,
  type RestartPolicy,
  type SupervisedIdentityServer,
} from './server/supervisor.js';
export { startIdentityServerInWorker, type IdentityWorkerHandle, type IdentityWorkerOptions } from './server/thread.js';

/** Runs the identity server on the caller's event loop (tests, the standalone command, benchmarks). */
export async function startIdentityServer(opts: IdentityServerOptions): Promise<IdentityServer> {
  const server = await import('./server/server.js');
  return server.startIdentityServer(opts);
}
