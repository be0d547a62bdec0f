/**
 * The cluster primary (proxy.workers > 1). It runs what a gateway has once: the embedded
 * identity server and demo upstream, the admin listener (health, metrics of every process,
 * purges, the decision API, JWKS) and the configuration watcher. It forks the workers, which
 * run the proxy listener on the socket Node's cluster shares among them, and:
 *
 *  - relays session-cache purges between processes (without Redis): a worker's purge reaches
 *    the primary's cache and every other worker; an admin purge reaches every worker;
 *  - is ready only while every worker listens and none drains;
 *  - drains every worker on shutdown, then closes its own listeners;
 *  - replaces a worker that exits unexpectedly (one error line each) and gives up, exiting 1,
 *    when they keep exiting (a crash loop);
 *  - reports a worker's start-up failure (a taken port, a bad key file) with the message and
 *    exit code a single process would have, once.
 */
import cluster, { type Worker } from 'node:cluster';
import type { GatewayConfig } from '../config/schema.js';
import { startedFields, startGateway, type RunningGateway } from '../start-gateway.js';
import { assertionKeysForWorkers } from '../gateway/assertion/keys.js';
import type { SessionInvalidation } from '../gateway/session/store/session-store.js';
import type { Logger } from '../log.js';
import { IpcInvalidationBus } from './ipc-invalidations.js';
import { isOurs, isWellFormed, Questions, WORKER_ENV, type FromWorker, type ToWorker, type WorkerMetrics } from './ipc-protocol.js';
import { aggregateMetrics, cumulative, mergeRetired, retire, WorkerMetricsOfPrimary } from './metrics-aggregation.js';
import { scopedIdentityId } from '../gateway/session/cache-key.js';

/**
 * More unexpected exits than this within CRASH_WINDOW_MS, or this many replacements in a row
 * that exit before they listen: the primary stops replacing and exits 1. The second rule does
 * not depend on how fast a worker fails: on a slow or busy node a replacement that always fails
 * in its start (a bad secret file) can take longer than CRASH_WINDOW_MS / CRASH_LIMIT, and the
 * window alone would then replace it for ever while the gateway stays not ready.
 */
export const CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 30_000;
/** How long the primary waits for a worker's answer (metrics, purge count) before going on without it. */
const ASK_TIMEOUT_MS = 2_000;
/** Beyond proxy.shutdown_grace_ms: a worker still alive then is killed. */
const STOP_MARGIN_MS = 5_000;

/** A worker could not start: what a single process would have printed, and its exit code. */
export class WorkerStartupError extends Error {
  constructor(
    readonly lines: string[],
    readonly code: number,
  ) {
    super(lines.join('\n'));
  }
}

export interface ClusterOptions {
  config: GatewayConfig;
  workers: number;
  logger: Logger;
  baseDir: string;
  configFile: string;
  /** Called when the workers keep crashing: the process must end with this code. */
  exit?: (code: number) => void;
}

export interface RunningCluster {
  proxyUrl: string;
  adminUrl: string;
  kratosPublicUrl: string;
  kratosAdminUrl: string | undefined;
  demoUrl: string | undefined;
  reload(trigger?: string): void;
  /** Readiness false, every worker drained, then the primary's own listeners closed. */
  shutdown(): Promise<void>;
  /** A second signal: every worker is told to exit at once (its own second signal). */
  abort(): void;
}

type State = 'starting' | 'listening' | 'stopping';

interface Member {
  worker: Worker;
  pid: number;
  state: State;
  /** Sent kg:init: from then on it may cache sessions, so purges must reach it. */
  initialised: boolean;
  failure?: { lines: string[]; code: number };
  /** Questions it has not answered yet: answered with undefined if it exits first. */
  asked: Set<number>;
  /** Its counters and histograms as last scraped: kept when it exits, so the sums never go down. */
  lastMetrics?: WorkerMetrics;
}

export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const { config, logger } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const members = new Map<number, Member>();
  const exits: number[] = [];
  /** Replacements in a row that exited before they listened; a worker that listens resets it. */
  let failedStarts = 0;
  let stopping = false;
  let proxyUrl = '';

  const questions = new Questions(ASK_TIMEOUT_MS);
  const post = (m: Member, message: ToWorker): boolean => {
    if (!m.worker.isConnected()) return false;
    m.worker.send(message, () => {});
    return true;
  };
  type Question = { type: 'kg:invalidate'; invalidation: SessionInvalidation } | { type: 'kg:metrics' };
  const ask = (m: Member, message: Question): Promise<unknown> => questions.ask((seq) => post(m, { ...message, seq } as ToWorker), m.asked);

  /** To every worker but `except` that may hold sessions; resolves with the sessions they dropped. */
  const fanOut = async (invalidation: SessionInvalidation, except?: Member): Promise<number> => {
    const targets = [...members.values()].filter((m) => m !== except && m.initialised);
    const counts = await Promise.all(targets.map((m) => ask(m, { type: 'kg:invalidate', invalidation })));
    return counts.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  };
  // The primary's own purges (admin API, decision API) go to every worker.
  const bus = new IpcInvalidationBus((invalidation) => fanOut(invalidation));
  // A worker's: to the primary's cache and every other worker, then confirmed to the worker.
  const relay = (from: Member, invalidation: SessionInvalidation, seq: number) => {
    const here = bus.deliver(invalidation);
    void fanOut(invalidation, from).then((there) => post(from, { type: 'kg:reply', seq, value: here + there }));
  };

  // What exited workers had counted, as of their last scrape (metrics.ts, retire()).
  let retired: WorkerMetrics[] = [];
  // What the last applied reload loaded: handed to every worker that starts after it.
  let reloaded: GatewayConfig | undefined;
  const listeningCount = () => [...members.values()].filter((m) => m.state === 'listening').length;

  const g: RunningGateway = await startGateway(config, {
    logger,
    baseDir: opts.baseDir,
    configFile: opts.configFile,
    role: 'primary',
    invalidationBus: bus,
    // The embedded identity thread kept failing to restart: stop, as for workers that keep exiting.
    onIdentityGaveUp: () => void shutdown().finally(() => exit(1)),
    onReloadApplied: (_outcome, trigger, loaded) => {
      reloaded = loaded;
      for (const m of members.values()) if (m.initialised) post(m, { type: 'kg:reload', trigger: `${trigger} (primary)`, config: loaded });
    },
    adminCluster: {
      async metrics(core) {
        const own = await core.metrics.registry.getMetricsAsJSON();
        const answers = await Promise.all(
          [...members.values()]
            // Not asked while it drains, but still counted (as last scraped) until it exits and retires.
            .filter((m) => m.state === 'listening' || m.lastMetrics !== undefined)
            .map(async (m) => {
              const answer = m.state === 'listening' ? await ask(m, { type: 'kg:metrics' }) : undefined;
              // Draining, or too busy to answer in time: its counters as last scraped, or the sums would
              // go down this once (a counter reset to Prometheus) and jump back at the next scrape.
              if (!Array.isArray(answer))
                return m.lastMetrics === undefined ? undefined : { id: m.worker.id, m, metrics: cumulative(m.lastMetrics) };
              m.lastMetrics = answer as WorkerMetrics;
              return { id: m.worker.id, m, metrics: m.lastMetrics };
            }),
        );
        if (retired.length > 1) {
          const merged = retired;
          const sum = await mergeRetired(merged);
          // Unless another worker retired meanwhile: then merge next time.
          if (retired === merged) retired = sum;
        }
        // A worker that exited while the others were still answering is counted in `retired`
        // now, with this very answer: added again it would count twice, then drop back.
        const live = answers.flatMap((a) => (a !== undefined && members.get(a.id) === a.m ? [a.metrics] : []));
        const registry = aggregateMetrics(own, [...retired, ...live]);
        return { contentType: registry.contentType, body: await registry.metrics() };
      },
      notReady() {
        const ready = listeningCount();
        return ready === opts.workers ? undefined : { status: 'workers_not_ready', workers_listening: ready, workers: opts.workers };
      },
      async purgeIdentity(core, identityId, kratos) {
        // The fan-out starts synchronously inside purgeIdentity; its count is read before the
        // purge settles (a settled confirmation is forgotten). The bus carries the identity as
        // the store names it: scoped by its Kratos instance (cache-key.ts).
        const here = core.resolvers.named(kratos)!.purgeIdentity(identityId);
        const others = bus.confirmation({ identityId: scopedIdentityId(kratos, identityId) }) ?? Promise.resolve(0);
        return (await here) + (await others);
      },
    },
  });
  const workerMetrics = new WorkerMetricsOfPrimary(g.core.metrics.registry, listeningCount);
  // The keys the primary's gateway loaded (core.config is the object they were prepared for).
  const ia = g.core.config.identity_assertion;
  const assertionKeys = ia.enabled && ia.tokenize_as === undefined ? assertionKeysForWorkers(ia) : undefined;

  let resolveStarted!: () => void;
  let rejectStarted!: (err: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  let initialStart = true;

  const fork = () => {
    const worker = cluster.fork({ [WORKER_ENV]: '1' });
    const m: Member = { worker, pid: worker.process.pid ?? 0, state: 'starting', initialised: false, asked: new Set() };
    members.set(worker.id, m);
    // A worker stuck in its start (a blocked read, a hung dependency) would leave the gateway
    // not ready but alive for ever, never restarted by an orchestrator: it is killed and
    // counted as an exit (a replacement, or at the first start the start-up failure). The limit
    // is the last applied configuration's: a reload can raise it for the next replacement on a
    // node slower than expected, without restarting the workers that run.
    const startLimitMs = (reloaded ?? config).proxy.worker_start_timeout_ms;
    const startTimer = setTimeout(() => {
      if (m.state !== 'starting' || stopping) return;
      m.failure ??= {
        lines: [`kratos-gateway: a worker did not start within ${startLimitMs} ms (proxy.worker_start_timeout_ms)`],
        code: 1,
      };
      logger.error({ worker: worker.id, pid: m.pid, timeout_ms: startLimitMs }, 'worker did not start in time; killing it');
      worker.process.kill('SIGKILL');
    }, startLimitMs);
    startTimer.unref();
    worker.once('exit', () => clearTimeout(startTimer));
    worker.on('message', (message: unknown) => {
      if (!isOurs<FromWorker>(message)) return;
      if (!isWellFormed(message))
        return void logger.warn({ worker: worker.id, pid: m.pid, type: message.type }, 'malformed message from a worker ignored');
      switch (message.type) {
        case 'kg:hello':
          if (stopping) return void post(m, { type: 'kg:shutdown' });
          m.initialised = true;
          post(m, {
            type: 'kg:init',
            config,
            baseDir: opts.baseDir,
            configFile: opts.configFile,
            kratosPublicUrl: g.kratosPublicUrl,
            ...(reloaded !== undefined ? { reloaded } : {}),
            ...(assertionKeys !== undefined ? { assertionKeys } : {}),
          });
          return;
        case 'kg:listening':
          if (m.state !== 'starting') return;
          clearTimeout(startTimer);
          failedStarts = 0;
          m.state = stopping ? 'stopping' : 'listening';
          proxyUrl ||= message.proxyUrl;
          logger.info({ worker: worker.id, pid: m.pid, proxy: message.proxyUrl }, 'worker started');
          if (initialStart && listeningCount() === opts.workers) {
            initialStart = false;
            resolveStarted();
          }
          return;
        case 'kg:failed':
          m.failure = { lines: message.lines, code: message.code };
          return;
        case 'kg:invalidate':
          relay(m, message.invalidation, message.seq);
          return;
        case 'kg:reply':
          questions.answer(message.seq, message.value);
          return;
      }
    });
    // An IPC error (the worker died mid-send) is reported by 'exit'; unhandled it would throw.
    worker.on('error', () => {});
  };

  cluster.on('exit', (worker, code, signal) => {
    const m = members.get(worker.id);
    if (m === undefined) return;
    members.delete(worker.id);
    for (const id of [...m.asked]) questions.answer(id, undefined);
    if (m.lastMetrics !== undefined) retired = retire(retired, m.lastMetrics);
    if (stopping) return void onStopped();
    if (initialStart && m.failure !== undefined) {
      // Every worker would fail the same way: stop, and exit as a single process would have.
      initialStart = false;
      rejectStarted(new WorkerStartupError(m.failure.lines, m.failure.code));
      return;
    }
    const now = Date.now();
    exits.push(now);
    while (exits.length > 0 && exits[0]! <= now - CRASH_WINDOW_MS) exits.shift();
    if (m.state === 'starting') failedStarts++;
    workerMetrics.restarts.inc();
    const fields = {
      worker: worker.id,
      pid: m.pid,
      exit_code: code,
      signal,
      ...(m.failure !== undefined ? { error: m.failure.lines.join('; ') } : {}),
    };
    if (exits.length > CRASH_LIMIT || failedStarts >= CRASH_LIMIT) {
      const why =
        exits.length > CRASH_LIMIT
          ? `${exits.length} in ${CRASH_WINDOW_MS / 1000} s`
          : `${failedStarts} replacements in a row failed to start`;
      logger.fatal(
        { ...fields, exits: exits.length, window_ms: CRASH_WINDOW_MS, failed_starts: failedStarts },
        `workers keep exiting (${why}): stopping the gateway`,
      );
      if (initialStart) {
        initialStart = false;
        rejectStarted(new WorkerStartupError([`kratos-gateway: workers keep exiting (last: exit code ${code}, signal ${signal})`], 1));
        return;
      }
      void shutdown().finally(() => exit(1));
      return;
    }
    logger.error(fields, 'worker exited unexpectedly; starting a replacement');
    fork();
  });

  let onStopped: () => void = () => {};
  const allStopped = () =>
    new Promise<void>((resolve) => {
      onStopped = () => {
        if (members.size === 0) resolve();
      };
      onStopped();
    });

  let stopped: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      g.core.draining = true;
      for (const m of members.values()) {
        m.state = 'stopping';
        if (!post(m, { type: 'kg:shutdown' })) m.worker.process.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        for (const m of members.values()) {
          logger.warn({ worker: m.worker.id, pid: m.pid }, 'worker did not stop in time; killing it');
          m.worker.process.kill('SIGKILL');
        }
      }, config.proxy.shutdown_grace_ms + STOP_MARGIN_MS);
      timer.unref();
      await allStopped();
      clearTimeout(timer);
      await g.shutdown();
    })();
    return stopped;
  };

  // Workers run this very entry point (process.argv, process.execArgv: tsx in tests, dist/ in production).
  cluster.setupPrimary({ serialization: 'advanced' });
  for (let i = 0; i < opts.workers; i++) fork();
  try {
    await started;
  } catch (err) {
    await shutdown();
    throw err;
  }

  logger.info({ ...startedFields(g.core, { proxy: proxyUrl, admin: g.adminUrl }), workers: opts.workers }, 'kratos-gateway started');

  return {
    proxyUrl,
    adminUrl: g.adminUrl,
    kratosPublicUrl: g.kratosPublicUrl,
    kratosAdminUrl: g.kratosAdminUrl,
    demoUrl: g.demoUrl,
    reload: (trigger = 'reload()') => {
      g.reload(trigger);
      // Certificates are no configuration: each worker reads its own files, whether or not a configuration changed.
      if (config.proxy.tls.cert_file !== undefined)
        for (const m of members.values()) if (m.initialised) post(m, { type: 'kg:certificates', trigger: `${trigger} (primary)` });
    },
    shutdown,
    abort() {
      for (const m of members.values()) m.worker.process.kill('SIGTERM');
    },
  };
}
