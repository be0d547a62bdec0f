/**
 * HTTP/2 client sessions to one upstream origin: a bounded set, each carrying as many streams
 * as its peer allows. A request takes the first session with room; when every session is
 * full another is opened, up to the bound; past that requests wait in a bounded queue.
 * A session that is sent GOAWAY, fails, or closes leaves the set at once (its streams finish
 * or fail on their own) and the next request that needs room opens its replacement.
 *
 * `h2c` is HTTP/2 with prior knowledge over TCP; `h2` is TLS with ALPN `h2` only and Node's
 * default certificate verification (its CA store plus NODE_EXTRA_CA_CERTS; the host name or IP
 * address of the upstream URL must be in the certificate).
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';

export interface SessionPoolOptions {
  /** Sessions (TCP connections) to the origin at most: proxy.upstream_connections. */
  readonly maxSessions: number;
  /** Requests waiting for a stream when every session is full; past it a request fails at once. */
  readonly maxQueued: number;
  readonly connectTimeoutMs: number;
  /** A session without streams this long is closed. */
  readonly idleTimeoutMs: number;
}

/**
 * Streams a session is assumed to allow until the peer's SETTINGS say otherwise: the least
 * RFC 9113 §6.5.2 recommends, and what Node's client assumes (`peerMaxConcurrentStreams`).
 */
const INITIAL_MAX_STREAMS = 100;

/** One session and its bookkeeping. */
export class PooledSession {
  active = 0;
  maxStreams = INITIAL_MAX_STREAMS;
  ready = false;
  /** Out of the set: sent GOAWAY, failed, closed or idle. Its open streams go on. */
  retired = false;
  /** The last stream id the peer's GOAWAY says it processed; streams above it were not (RFC 9113 §6.8). */
  goawayLastStreamId: number | undefined = undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  connectTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  error: Error | undefined = undefined;

  constructor(readonly session: ClientHttp2Session) {}

  /** Whether the peer certainly did not process this stream: it is safe to send again (RFC 9113 §8.7). */
  unprocessed(stream: ClientHttp2Stream): boolean {
    if (stream.id === undefined) return true; // never sent
    if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return true;
    return this.goawayLastStreamId !== undefined && stream.id > this.goawayLastStreamId;
  }
}

export type StreamCallback = (err: Error | undefined, stream?: ClientHttp2Stream, on?: PooledSession) => void;

interface Waiter {
  readonly headers: OutgoingHttpHeaders;
  readonly endStream: boolean;
  readonly cb: StreamCallback;
}

/** Why a request got no stream: every session is full and the queue too. */
export class PoolSaturated extends Error {
  constructor() {
    super('every upstream session is full and the queue too');
    this.name = 'PoolSaturated';
  }
}

export class Http2SessionPool {
  /** Connecting or ready, not retired: the sessions new streams may go to. */
  private readonly live: PooledSession[] = [];
  /** Every session not yet closed, retired ones included (closed at shutdown). */
  private readonly open = new Set<PooledSession>();
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(
    readonly origin: string,
    private readonly options: SessionPoolOptions,
  ) {}

  /**
   * Opens a request stream on a session with room: `cb` is called once, with the stream and
   * its session, or with why there is none. The returned function withdraws a request still
   * waiting (the caller no longer wants it); once `cb` has been called it does nothing.
   */
  request(headers: OutgoingHttpHeaders, endStream: boolean, cb: StreamCallback): () => void {
    const waiter: Waiter = { headers, endStream, cb };
    if (this.closed) {
      cb(new Error('the upstream session pool is closed'));
      return noop;
    }
    if (this.waiting.length === 0) {
      const room = this.roomy();
      if (room !== undefined) {
        this.dispatch(room, waiter);
        return noop;
      }
    }
    if (this.waiting.length >= this.options.maxQueued) {
      cb(new PoolSaturated());
      return noop;
    }
    this.waiting.push(waiter);
    this.pump();
    return () => {
      const i = this.waiting.indexOf(waiter);
      if (i !== -1) this.waiting.splice(i, 1);
    };
  }

  /** Sessions connecting or ready (for tests and metrics). */
  get size(): number {
    return this.live.length;
  }

  /** Closes every session once its streams are done; requests still waiting fail. */
  close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.cb(new Error('the upstream session pool is closed'));
    const all = [...this.open];
    return Promise.all(
      all.map(
        (p) =>
          new Promise<void>((resolve) => {
            clearTimeout(p.idleTimer);
            if (p.session.closed || p.session.destroyed) return resolve();
            p.session.once('close', () => resolve());
            p.session.close();
          }),
      ),
    ).then(noop);
  }

  private roomy(): PooledSession | undefined {
    for (let i = 0; i < this.live.length; i++) {
      const p = this.live[i]!;
      if (p.ready && p.active < p.maxStreams) return p;
    }
    return undefined;
  }

  /** Serves waiting requests while some session has room; opens sessions for those no connecting one will take. */
  private pump(): void {
    if (this.closed) return;
    while (this.waiting.length > 0) {
      const room = this.roomy();
      if (room !== undefined) {
        this.dispatch(room, this.waiting.shift()!);
        continue;
      }
      let coming = 0;
      for (const p of this.live) if (!p.ready) coming += p.maxStreams;
      if (this.waiting.length <= coming || this.live.length >= this.options.maxSessions) return;
      this.connect();
    }
  }

  private dispatch(p: PooledSession, w: Waiter): void {
    let stream: ClientHttp2Stream;
    try {
      // With a body, END_STREAM waits for the caller's sendTrailers (UpstreamExchange: never on a cancel).
      stream = p.session.request(w.headers, { endStream: w.endStream, waitForTrailers: !w.endStream });
    } catch (err) {
      // A session that went away in between (Node refuses new streams on it): another will do.
      if (p.session.closed || p.session.destroyed) {
        this.retire(p);
        this.waiting.unshift(w);
        this.pump();
        return;
      }
      // Headers HTTP/2 cannot carry: no session would take them.
      w.cb(err as Error);
      return;
    }
    p.active++;
    clearTimeout(p.idleTimer);
    stream.once('close', () => {
      p.active--;
      if (p.active === 0 && !p.retired) p.idleTimer = setTimeout(idle, this.options.idleTimeoutMs, this, p).unref();
      this.pump();
    });
    w.cb(undefined, stream, p);
  }

  private connect(): void {
    const session = http2.connect(this.origin, {
      // A proxy never wants pushed responses; with TLS, Node offers ALPN 'h2' alone and verifies
      // the certificate against the upstream URL's host.
      settings: { enablePush: false },
      peerMaxConcurrentStreams: INITIAL_MAX_STREAMS,
    });
    const p = new PooledSession(session);
    this.live.push(p);
    this.open.add(p);
    p.connectTimer = setTimeout(() => {
      if (!p.ready) session.destroy(Object.assign(new Error('the upstream did not accept the connection in time'), { code: 'ETIMEDOUT' }));
    }, this.options.connectTimeoutMs).unref();
    // Ready at the peer's first SETTINGS (its connection preface), not at 'connect': only then is
    // its stream limit known, and streams sent before could exceed it.
    session.on('remoteSettings', (settings) => {
      clearTimeout(p.connectTimer);
      p.ready = true;
      p.maxStreams = settings.maxConcurrentStreams ?? 2 ** 32 - 1;
      this.pump();
    });
    session.on('goaway', (_code: number, lastStreamId: number) => {
      p.goawayLastStreamId = p.goawayLastStreamId === undefined ? lastStreamId : Math.min(p.goawayLastStreamId, lastStreamId);
      this.retire(p);
      this.pump();
    });
    session.on('error', (err: Error) => {
      p.error ??= err;
      this.retire(p);
    });
    session.once('close', () => {
      clearTimeout(p.connectTimer);
      clearTimeout(p.idleTimer);
      this.open.delete(p);
      const neverReady = !p.ready;
      this.retire(p);
      // The connection was never made: requests waiting for it fail, unless another session may still take them.
      if (neverReady && this.live.length === 0) {
        const err = p.error ?? new Error('the upstream closed the connection');
        for (const w of this.waiting.splice(0)) w.cb(err);
      }
      this.pump();
    });
  }

  private retire(p: PooledSession): void {
    if (p.retired) return;
    p.retired = true;
    clearTimeout(p.idleTimer);
    const i = this.live.indexOf(p);
    if (i !== -1) this.live.splice(i, 1);
  }

  /** Closes an idle session (its last stream closed a while ago). */
  retireIdle(p: PooledSession): void {
    if (p.active !== 0 || p.retired) return;
    this.retire(p);
    p.session.close();
  }
}

function idle(pool: Http2SessionPool, p: PooledSession): void {
  pool.retireIdle(p);
}

function noop(): void {}
