/**
 * A worker process (proxy.workers > 1): it waits for its primary's kg:init, then runs the
 * proxy listener on the shared socket (data plane, Kratos mount, UI) with the configuration,
 * Kratos URL and signing key the primary sent. Purges go to and come from the other processes
 * through the primary (IpcInvalidationBus); SIGTERM, SIGINT or kg:shutdown drain it like a
 * single process; a second signal exits 1 at once.
 */
import cluster from 'node:cluster';
import { startGateway, startupFailure, type RunningGateway } from '../start-gateway.js';
import { adoptAssertionKeys } from '../gateway/assertion/keys.js';
import { createLogger, type Logger } from '../log.js';
import { IpcInvalidationBus } from './ipc-invalidations.js';
import { isOurs, Questions, type FromWorker, type ToWorker } from './ipc-protocol.js';
import type { SessionInvalidation } from '../gateway/session/store/session-store.js';
import type { GatewayConfig } from '../config/schema.js';

function send(message: FromWorker): void {
  // The primary gone: nothing to tell (Node's cluster ends this worker).
  if (process.connected) process.send!(message, undefined, undefined, () => {});
}

/** Bounded: a primary that does not confirm (gone, stuck) must not hold a purge forever. */
const questions = new Questions(2_000);

/** Sends a purge to the primary; resolves with how many sessions the other processes dropped (0 when unconfirmed). */
async function confirmedByOthers(invalidation: SessionInvalidation): Promise<number> {
  const value = await questions.ask((seq) => {
    if (!process.connected) return false;
    send({ type: 'kg:invalidate', invalidation, seq });
    return true;
  });
  return typeof value === 'number' ? value : 0;
}

export function runWorker(): void {
  let gateway: RunningGateway | undefined;
  let bus: IpcInvalidationBus | undefined;
  let logger: Logger | undefined;
  let stopping = false;
  /** The latest kg:reload that came while the gateway was starting: applied once it is up. */
  let reloadWhileStarting: { trigger: string; config: GatewayConfig } | undefined;

  const exit = (code: number) => {
    logger?.flush();
    process.exit(code);
  };
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    if (gateway === undefined) return exit(0);
    logger?.info({ reason }, 'worker draining');
    gateway.shutdown().then(
      () => exit(0),
      () => exit(1),
    );
  };
  const onSignal = (signal: string) => {
    if (stopping) {
      logger?.warn({ signal }, 'second signal: exiting without waiting for the drain');
      return exit(1);
    }
    stop(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Handled, or it would end the worker: SIGHUP from a closed terminal reaches every process of
  // the group. The primary reloads and sends what it applied (kg:reload); a worker reading the
  // file on its own could end up with a configuration the primary does not run.
  process.on('SIGHUP', () => {});
  // The primary gone (killed, crashed): Node's cluster exits the worker at once on the
  // unexpected disconnect, before any listener here could drain it. Without the primary no new
  // connection arrives anyway; the orchestrator restarts the gateway.

  const reload = (trigger: string, config: GatewayConfig) => {
    try {
      gateway?.reload(trigger, config);
    } catch (err) {
      logger?.error({ err: { message: (err as Error).message } }, 'configuration reload failed');
    }
  };

  const start = async (init: Extract<ToWorker, { type: 'kg:init' }>) => {
    const config = init.config;
    logger = createLogger(config.log.level, undefined, config.log.format, true).child({ worker: cluster.worker?.id });
    if (init.assertionKeys !== undefined)
      adoptAssertionKeys(config.identity_assertion.algorithm, init.assertionKeys, config.identity_assertion.key_file === undefined);
    bus = new IpcInvalidationBus((invalidation) => confirmedByOthers(invalidation));
    try {
      gateway = await startGateway(config, {
        logger,
        baseDir: init.baseDir,
        configFile: init.configFile,
        role: 'worker',
        kratosPublicUrl: init.kratosPublicUrl,
        invalidationBus: bus,
      });
    } catch (err) {
      const failure = startupFailure(err) ?? { lines: [`kratos-gateway: fatal: ${(err as Error).message}`], code: 1 };
      logger.flush();
      // The primary prints it once for all workers; exit after it has been handed to the channel.
      if (process.connected)
        process.send!({ type: 'kg:failed', ...failure } satisfies FromWorker, undefined, undefined, () => exit(failure.code));
      else exit(failure.code);
      return;
    }
    // In the same tick as the listen: no connection is served before the reload applies.
    if (init.reloaded !== undefined) reload('worker replaced (primary)', init.reloaded);
    if (reloadWhileStarting !== undefined) reload(reloadWhileStarting.trigger, reloadWhileStarting.config);
    if (stopping) return void gateway.shutdown().then(() => exit(0));
    send({ type: 'kg:listening', proxyUrl: gateway.proxyUrl });
  };

  process.on('message', (message: unknown) => {
    if (!isOurs<ToWorker>(message)) return;
    switch (message.type) {
      case 'kg:init':
        if (gateway === undefined && logger === undefined) void start(message);
        return;
      case 'kg:invalidate': {
        const dropped = bus?.deliver(message.invalidation) ?? 0;
        if (message.seq !== undefined) send({ type: 'kg:reply', seq: message.seq, value: dropped });
        return;
      }
      case 'kg:metrics':
        if (gateway === undefined) return send({ type: 'kg:reply', seq: message.seq, value: undefined });
        void gateway.core.metrics.registry.getMetricsAsJSON().then(
          (metrics) => send({ type: 'kg:reply', seq: message.seq, value: metrics }),
          () => send({ type: 'kg:reply', seq: message.seq, value: undefined }),
        );
        return;
      case 'kg:reload':
        if (stopping) return;
        // Not up yet (kg:init came, startGateway runs): it would be lost, and the worker would
        // serve the configuration of its kg:init until the next reload.
        if (gateway === undefined) reloadWhileStarting = { trigger: message.trigger, config: message.config };
        else reload(message.trigger, message.config);
        return;
      case 'kg:certificates':
        if (stopping) return;
        try {
          gateway?.reloadCertificates(message.trigger);
        } catch (err) {
          logger?.error({ err: { message: (err as Error).message } }, 'certificate reload failed');
        }
        return;
      case 'kg:shutdown':
        stop('primary');
        return;
      case 'kg:reply':
        questions.answer(message.seq, message.value);
        return;
    }
  });
  send({ type: 'kg:hello' });
}
