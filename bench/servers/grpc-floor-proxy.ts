/**
 * The HTTP/2 floor of the grpc scenario: node:http2 h2c in, one node:http2 h2c session to the
 * upstream out, every stream piped both ways with response headers and trailers relayed; no
 * authentication, no logging, no metrics. What a Node gateway carrying gRPC pays before it does
 * its job. argv[2]: JSON `{ upstreamUrl }` (http://host:port of an h2c server).
 */
import http2, { constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serveIpc } from '../lib/proc.js';

const { upstreamUrl } = JSON.parse(process.argv[2] ?? '{}') as { upstreamUrl: string };

let session: ClientHttp2Session | undefined;
function upstream(): ClientHttp2Session {
  if (session === undefined || session.closed || session.destroyed) {
    const s = http2.connect(upstreamUrl);
    s.on('error', () => {});
    s.on('close', () => {
      if (session === s) session = undefined;
    });
    session = s;
  }
  return session;
}

/** Headers to pass on: no pseudo-headers (set by the caller), no credential. */
function relayable(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (k[0] !== ':' && k !== 'x-session-token') out[k] = v;
  return out;
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream, headers) => {
  const req = upstream().request({
    ':method': headers[':method'],
    ':path': headers[':path'],
    ':authority': headers[':authority'],
    ...relayable(headers),
  });
  const fail = () => {
    if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 502 }, { endStream: true });
    else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  };
  req.on('error', fail);
  stream.on('error', () => req.close(constants.NGHTTP2_CANCEL));
  stream.on('close', () => {
    if (!req.closed) req.close(constants.NGHTTP2_CANCEL);
  });
  stream.pipe(req);
  let trailers: OutgoingHttpHeaders = {};
  req.on('trailers', (t) => {
    trailers = relayable(t);
  });
  req.on('response', (h, flags) => {
    const out = { ':status': h[':status'], ...relayable(h) };
    // A trailers-only answer (a gRPC error): one header block that ends the stream.
    if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
      stream.respond(out, { endStream: true });
      return;
    }
    stream.respond(out, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    req.pipe(stream);
  });
});
server.listen(0, '127.0.0.1', () => {
  serveIpc({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.on('SIGTERM', () => process.exit(0));
