/**
 * The WebSocket writer: runs the evaluation for a handshake and either refuses it on the raw
 * socket (a JSON error, then the connection closes) or passes it upstream.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { sendSocketError } from '../../http/json-error.js';
import type { ConfigSnapshot } from '../config-snapshot.js';
import type { WebSocketForwarder } from '../forward/websocket-forwarder.js';
import { evaluate, evaluationInput, type PipelineDeps } from '../pipeline/evaluate.js';
import { arrive, observeFailure, type Observe } from '../pipeline/observe.js';
import { peerAddress, requestIdOf } from '../../http/request.js';
import { upstreamPath } from '../routing/route-table.js';
import type { Tracing } from '../../observability/tracing/types.js';

/** What the WebSocket writer uses beyond the evaluation's own needs. */
export interface WebSocketTransportDeps extends PipelineDeps {
  /** The current configuration snapshot: read once when a handshake arrives. */
  readonly snapshot: ConfigSnapshot;
  readonly websocket: Pick<WebSocketForwarder, 'forward'>;
  /** Forwarded sockets, destroyed at the end of the drain period: the HTTP server stops tracking a socket once it is upgraded. */
  readonly upgradedSockets: Set<Duplex>;
  readonly tracing?: Pick<Tracing, 'startRequest'> | undefined;
}

export function createWebSocketTransport(g: WebSocketTransportDeps, observe: Observe, closing: WeakSet<object>) {
  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req);
    socket.on('error', () => socket.destroy());
    // Pipelined behind a refusal that closes the connection: Node hands a handshake to this
    // listener, not to the request handler, so the same rule is applied here. end() (not
    // destroy()) lets the refusal already queued on this socket reach the client before the FIN.
    if (closing.has(req.socket)) {
      socket.end();
      return;
    }
    const trace = g.tracing?.startRequest(req, 'websocket');
    const a = arrive(req, { started, requestId, peer: peerAddress(req), snapshot: g.snapshot, path: undefined, observed: false });

    const evaluated = evaluate(g, a, evaluationInput('websocket', method, req), trace);
    // Awaited only when authentication had to ask: a refusal before it is written in this tick.
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;
    if (outcome.kind === 'refuse') {
      sendSocketError(socket, outcome.status, outcome.message, outcome.headers as Record<string, string> | undefined, outcome.error);
      return observe(req, a, outcome.route, outcome.status);
    }
    if (outcome.kind === 'control') throw new Error('unreachable: the control plane takes no WebSocket');
    if (outcome.kind === 'preflight') throw new Error('unreachable: a WebSocket handshake is a GET, never a CORS preflight');

    const { route, target } = outcome;
    trace?.inject(req.headers);
    req.url = upstreamPath(route, target.path, target.search);
    g.upgradedSockets.add(socket);
    socket.once('close', () => g.upgradedSockets.delete(socket));
    g.websocket.forward(req, socket, head, route.upstream.origin);
    observe(req, a, route.name, 101, outcome.session?.identityId);
  }

  return {
    handleUpgrade,
    fail(req: IncomingMessage, socket: Duplex): void {
      sendSocketError(socket, 500, 'An internal error occurred');
      observeFailure(observe, req);
    },
  };
}
