/**
 * The proxy port's HTTP/2 server, with every limit set from the proxy configuration. It never
 * listens itself: the h2c dispatcher (plaintext) or the TLS front hands it connections.
 *
 * What Node bounds and what this module adds:
 * - the header list: SETTINGS_MAX_HEADER_LIST_SIZE is proxy.max_header_size, and the number of
 *   fields is capped where every field's 32-octet overhead (RFC 9113 §6.5.2) would exceed it (more
 *   fields reset the stream with ENHANCE_YOUR_CALM). Node does not hold a peer to the size it
 *   announced, so the HTTP/2 transport refuses a larger list with 431 (headerListSize);
 * - streams: SETTINGS_MAX_CONCURRENT_STREAMS is proxy.http2_max_concurrent_streams; a client that
 *   keeps opening streams past it is sent REFUSED_STREAM, then the session goes after
 *   `maxSessionRejectedStreams`;
 * - rapid reset (HEADERS then RST_STREAM, over and over): nghttp2's stream reset rate limit ends
 *   the session with GOAWAY(ENHANCE_YOUR_CALM), and the evaluation of a reset stream stops at its
 *   next step (the stream is gone);
 * - CONTINUATION, SETTINGS and PING floods: nghttp2 caps CONTINUATION frames per header block and
 *   the header list size; unanswered PINGs and SETTINGS are capped (`maxOutstandingPings`,
 *   `maxOutstandingSettings`, `maxSettings` entries per frame); frames Node counts as invalid end
 *   the session after `maxSessionInvalidFrames`; nghttp2 itself bounds its memory per session.
 *
 * Timeouts, as for HTTP/1.1:
 * - a connection with no open stream is closed (GOAWAY) after proxy.headers_timeout_ms when it has
 *   not yet carried a request, and after proxy.keep_alive_timeout_ms once its streams are done.
 *   A stream whose header block never completes is not open yet, so a slowloris that starts
 *   HEADERS and never ends them is closed with its connection;
 * - a stream with no traffic either way for proxy.request_timeout_ms is answered 408 (or reset
 *   when its response has started).
 */
import { createServer, constants, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';

export interface Http2Limits {
  readonly maxConcurrentStreams: number;
  readonly maxHeaderSize: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export interface ProxyHttp2Server {
  readonly server: Http2Server;
  /** GOAWAY to every session: open streams finish, no new ones are accepted, each session closes when its last stream is done. */
  closeSessions(): void;
  /** Ends every session now (the grace period is over). */
  destroySessions(): void;
}

/** RFC 9113 §6.5.2: each field costs its name, its value and 32 octets. */
const FIELD_OVERHEAD = 32;

export function http2ServerOptions(l: Http2Limits) {
  return {
    settings: {
      maxConcurrentStreams: l.maxConcurrentStreams,
      maxHeaderListSize: l.maxHeaderSize,
      enablePush: false,
      enableConnectProtocol: false,
    },
    // No more fields than fit into the header list size; 4 is Node's floor (the pseudo-headers).
    maxHeaderListPairs: Math.max(4, Math.floor(l.maxHeaderSize / FIELD_OVERHEAD)),
    peerMaxConcurrentStreams: l.maxConcurrentStreams,
    // Node's defaults, stated so a change of them is a change here: 1000 invalid frames is
    // generous for a proxy whose clients are other programs.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxOutstandingSettings: 10,
    maxSettings: 32,
  };
}

export function createProxyHttp2Server(
  l: Http2Limits,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void,
): ProxyHttp2Server {
  const server = createServer(http2ServerOptions(l));
  const sessions = new Set<Http2Session>();

  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      clearTimeout(idle);
      // An idle connection is told GOAWAY and closed.
      if (ms > 0) idle = setTimeout(closeIdle, ms, session).unref();
    };
    arm(l.headersTimeoutMs);
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      clearTimeout(idle);
      if (l.requestTimeoutMs > 0) stream.setTimeout(l.requestTimeoutMs, () => streamTimedOut(stream));
      stream.once('close', () => {
        if (--open === 0 && !session.closed) arm(l.keepAliveTimeoutMs);
      });
    });
    // Errors of a session end it; nobody else listens for them, and one must not crash the process.
    session.on('error', () => session.destroy());
    session.once('close', () => {
      clearTimeout(idle);
      sessions.delete(session);
    });
  });
  server.on('stream', onStream);
  // A connection that is not HTTP/2 after all (a broken preface) or a socket error: only it ends.
  server.on('sessionError', () => {});

  return {
    server,
    closeSessions() {
      for (const s of sessions) s.close();
    },
    destroySessions() {
      for (const s of sessions) s.destroy();
      sessions.clear();
    },
  };
}

function streamTimedOut(stream: ServerHttp2Stream): void {
  if (stream.destroyed) return;
  if (stream.headersSent) return void stream.close(constants.NGHTTP2_CANCEL);
  stream.respond({ ':status': 408, 'content-length': 0, 'cache-control': 'no-store' }, { endStream: true });
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/** The size of a header list as RFC 9113 §6.5.2 counts it, from the stream event's raw name/value pairs. */
export function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i++) size += rawHeaders[i]!.length;
  return size + (rawHeaders.length / 2) * FIELD_OVERHEAD;
}

/**
 * GOAWAY, then the connection closes. It has no open stream, so nothing is cut short, but Node's
 * close() waits for what nghttp2 still holds: a header block that never completes would keep the
 * connection open for good (an HTTP/2 slowloris), so it is ended here.
 */
function closeIdle(session: Http2Session): void {
  session.close();
  if (!session.destroyed) session.destroy();
}
