/**
 * Worker-thread entry of the embedded identity server (started by thread.ts). The identity
 * server does CPU-heavy work for unauthenticated callers (argon2, bcrypt in JavaScript, the
 * password policy, JSON schema validation); on its own thread that work cannot delay the
 * gateway's data plane.
 *
 * Protocol, worker → host: {type:'log', line} for every log line, then {type:'listening',
 * publicUrl, adminUrl} or {type:'error', error}; after the host sends {type:'close'}, the
 * servers and the database are closed and {type:'closed'} follows.
 */
import { Writable } from 'node:stream';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../log.js';
import { startIdentityServer, type IdentityServer } from './server.js';
import type { HostMessage, IdentityWorkerData, SerializedError, WorkerMessage } from './thread.js';

function serializeError(err: unknown): SerializedError {
  const e = err as Partial<NodeJS.ErrnoException> & { port?: unknown; keyPath?: unknown; reason?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.port === 'number' ? { port: e.port } : {}),
    ...(typeof e.keyPath === 'string' && typeof e.reason === 'string' ? { keyPath: e.keyPath, reason: e.reason } : {}),
  };
}

async function main(): Promise<void> {
  if (isMainThread || !parentPort) throw new Error('src/identity/server/thread-entry.ts runs only as a worker thread (see thread.ts)');
  const port = parentPort;
  const post = (m: WorkerMessage) => port.postMessage(m);
  const data = workerData as IdentityWorkerData;

  // Lines go to the host, which writes them to the gateway logger's own destination: one
  // stream, one order, and tests that capture the gateway's log see identity lines too.
  // pino serializes (and redacts) here, on this thread.
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      post({ type: 'log', line: chunk.toString() });
      cb();
    },
  });
  const root = createLogger(data.log.level, sink);
  const rootBindings = root.bindings();
  // The host's bindings include the root logger's `base` (service); keep each key once.
  const logger = root.child(Object.fromEntries(Object.entries(data.log.bindings).filter(([k]) => !(k in rootBindings))));

  let server: IdentityServer;
  try {
    server = await startIdentityServer({ ...data.options, logger });
  } catch (err) {
    post({ type: 'error', error: serializeError(err) });
    return;
  }
  port.on('message', (m: HostMessage) => {
    if (m.type !== 'close') return;
    server
      .close()
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'error while closing the identity server'))
      .finally(() => post({ type: 'closed' }));
  });
  post({ type: 'listening', publicUrl: server.publicUrl, adminUrl: server.adminUrl });
}

void main();
