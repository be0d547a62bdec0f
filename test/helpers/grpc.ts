/**
 * gRPC for the forwarding tests: real `@grpc/grpc-js` servers and clients speaking the tiny
 * service in test/fixtures/grpc/echo.proto, and a front — a node:http2 server whose streams
 * are handed to the Http2Forwarder under test, as the gateway's HTTP/2 listener hands them.
 */
import http2, { type Http2Session, type IncomingHttpHeaders } from 'node:http2';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Http2Forwarder, type Http2ForwardResult } from '../../src/gateway/forward/http2-forwarder.js';

export { grpc };

export interface Msg {
  text?: string;
  count?: number;
  payload?: Buffer;
}

type UnaryCallback = (err: grpc.ServiceError | null, res?: Msg) => void;

/** The generated client, typed by hand (proto-loader builds it at run time). */
export interface EchoClient extends grpc.Client {
  Unary(req: Msg, md: grpc.Metadata, options: grpc.CallOptions, cb: UnaryCallback): grpc.ClientUnaryCall;
  ServerStream(req: Msg, md?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
  ClientStream(md: grpc.Metadata, options: grpc.CallOptions, cb: UnaryCallback): grpc.ClientWritableStream<Msg>;
  Bidi(md?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>;
}

const PROTO = fileURLToPath(new URL('../fixtures/grpc/echo.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const pkg = (grpc.loadPackageDefinition(definition).kgtest as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;

/** How long to wait for something that takes milliseconds when healthy (a loaded machine included). */
export const WAIT_MS = 30_000;

/** Polls `condition` until it holds; fails after WAIT_MS. */
export async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function echoClient(address: string, credentials = grpc.credentials.createInsecure()): EchoClient {
  return new pkg(address, credentials) as unknown as EchoClient;
}

/** A unary call as a promise of the reply, or of the error (a grpc.ServiceError). */
export function unary(client: EchoClient, req: Msg, md = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Msg> {
  return new Promise((resolve, reject) => client.Unary(req, md, options, (err, res) => (err ? reject(err) : resolve(res!))));
}

/** A unary call that must fail: its error. */
export async function unaryError(
  client: EchoClient,
  req: Msg,
  md = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<grpc.ServiceError> {
  try {
    await unary(client, req, md, options);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`expected ${JSON.stringify(req)} to fail`);
}

/** What the echo server saw. */
export interface EchoState {
  /** `getPeer()` of every call: distinct values are distinct connections. */
  peers: string[];
  /** Methods whose call the server saw cancelled. */
  cancelled: string[];
  inFlight: number;
  maxInFlight: number;
  /** `hold` calls are answered together once this many are in flight. */
  holdUntil: number;
  /** Server streaming `flow`: messages written before the first write that had to wait (-1: none had to). */
  blockedAfter: number | undefined;
}

export interface EchoServer {
  address: string;
  state: EchoState;
  close(): Promise<void>;
}

/**
 * The echo service. Unary: `hang` never answers, `fail` fails with status `count` and trailing
 * metadata, `metadata` answers with the request metadata it saw, `hold` waits for holdUntil calls.
 * ServerStream: `count` messages, `hang-after-1` one and then nothing, `flow` `count` 64 KiB
 * messages written with backpressure. ClientStream: the texts joined. Bidi: each message back.
 */
export async function startEchoServer(
  options: grpc.ServerOptions = {},
  credentials = grpc.ServerCredentials.createInsecure(),
): Promise<EchoServer> {
  const state: EchoState = { peers: [], cancelled: [], inFlight: 0, maxInFlight: 0, holdUntil: Infinity, blockedAfter: undefined };
  const held: Array<() => void> = [];
  const watch = (call: { getPeer(): string; on(event: 'cancelled', listener: () => void): unknown }, method: string) => {
    state.peers.push(call.getPeer());
    call.on('cancelled', () => state.cancelled.push(method));
  };
  const server = new grpc.Server(options);
  server.addService(pkg.service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      watch(call, 'Unary');
      const { text = '', count = 0 } = call.request;
      if (text === 'hang') return;
      if (text === 'fail') {
        const md = new grpc.Metadata();
        md.set('x-detail', 'why it failed');
        md.set('x-detail-bin', Buffer.from([0, 1, 2, 255]));
        return cb({ code: count, details: 'failed: ü 100% done', metadata: md });
      }
      if (text === 'metadata') {
        const initial = new grpc.Metadata();
        initial.set('x-initial', 'sent first');
        call.sendMetadata(initial);
        const trailing = new grpc.Metadata();
        trailing.set('x-trailing', 'sent last');
        return cb(null, { text: JSON.stringify(call.metadata.getMap()) }, trailing);
      }
      if (text === 'hold') {
        state.inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        held.push(() => {
          state.inFlight--;
          cb(null, { text: 'released' });
        });
        if (state.inFlight >= state.holdUntil) for (const release of held.splice(0)) release();
        return;
      }
      cb(null, { text: `echo: ${text}` });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      watch(call, 'ServerStream');
      const { text = '', count = 0 } = call.request;
      if (text === 'hang-after-1') return void call.write({ text: 'first' });
      if (text === 'flow') {
        const payload = Buffer.alloc(64 * 1024, 7);
        let i = 0;
        const writeMore = () => {
          while (i < count) {
            const ok = call.write({ text: `flow-${i}`, payload });
            i++;
            if (!ok) {
              state.blockedAfter ??= i;
              return void call.once('drain', writeMore);
            }
          }
          state.blockedAfter ??= -1;
          call.end();
        };
        return writeMore();
      }
      for (let i = 0; i < count; i++) call.write({ text: `${text}-${i}` });
      call.end();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      watch(call, 'ClientStream');
      const texts: string[] = [];
      call.on('data', (m: Msg) => texts.push(m.text ?? ''));
      call.on('end', () => cb(null, { text: texts.join(','), count: texts.length }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      watch(call, 'Bidi');
      call.on('data', (m: Msg) => call.write({ text: `echo: ${m.text ?? ''}` }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

export interface Front {
  /** host:port, for grpc-js clients. */
  address: string;
  url: string;
  /** Every forward's result, in completion order. */
  results: Http2ForwardResult[];
  close(): Promise<void>;
}

/**
 * A node:http2 server that hands every stream to `forwarder`, bound for `upstream`: the part of
 * the gateway's HTTP/2 listener that calls the forwarder, without authentication.
 */
export async function startFront(forwarder: Http2Forwarder, upstream: string, protocol: 'h2c' | 'h2', timeoutMs?: number): Promise<Front> {
  const results: Http2ForwardResult[] = [];
  const sessions = new Set<Http2Session>();
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const rest: IncomingHttpHeaders = {};
    for (const name in headers) if (!name.startsWith(':')) rest[name] = headers[name];
    const target = {
      method: headers[':method']!,
      path: headers[':path']!,
      authority: headers[':authority'],
      upstream: new URL(upstream),
      protocol,
      timeoutMs,
    };
    forwarder.forward(stream, rest, target, (r) => {
      results.push(r);
      // What the caller answers when the forwarder did not (a request that is not gRPC).
      if (r.status === undefined && r.failure !== undefined && r.failure.status !== 0 && !stream.destroyed && !stream.headersSent)
        stream.respond({ ':status': r.failure.status }, { endStream: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    results,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One stream a raw HTTP/2 upstream received. */
export interface SeenStream {
  headers: IncomingHttpHeaders;
  /** The stream's session, in order of arrival (0 for the first session). */
  session: number;
  /** Its RST_STREAM code once closed (0: closed normally). */
  rstCode: number | undefined;
  body: Buffer[];
}

/**
 * A bare node:http2 upstream (h2c) whose behaviour the test writes: for protocol details a
 * grpc-js server never shows (resets, GOAWAY, refused streams, what headers arrived).
 */
export async function startH2Upstream(
  onStream: (stream: http2.ServerHttp2Stream, seen: SeenStream, index: number) => void,
  settings: http2.Settings = {},
) {
  const seen: SeenStream[] = [];
  const sessions: Http2Session[] = [];
  const server = http2.createServer({ settings });
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream, headers) => {
    const record: SeenStream = { headers, session: sessions.indexOf(stream.session!), rstCode: undefined, body: [] };
    seen.push(record);
    stream.on('error', () => {});
    stream.on('data', (c: Buffer) => record.body.push(c));
    stream.on('close', () => (record.rstCode = stream.rstCode));
    onStream(stream, record, seen.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One gRPC message (RFC-less framing: flag byte, 4-byte length) carrying Msg{text}. */
export function grpcFrame(text: string): Buffer {
  const t = Buffer.from(text, 'utf8');
  const msg = Buffer.concat([Buffer.from([0x0a, t.length]), t]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(msg.length, 1);
  return Buffer.concat([prefix, msg]);
}

/** The response headers an HTTP/2 gRPC server starts with. */
export const GRPC_RESPONSE = { ':status': 200, 'content-type': 'application/grpc' } as const;

/** A forwarder (`sessions` per origin) and a front bound for `upstream`, closed together. */
export async function startForwarding(upstream: string, protocol: 'h2c' | 'h2', sessions = 4) {
  const forwarder = new Http2Forwarder(sessions);
  const front = await startFront(forwarder, upstream, protocol);
  return {
    forwarder,
    front,
    close: async () => {
      await front.close();
      await forwarder.close();
    },
  };
}
