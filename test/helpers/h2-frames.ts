/**
 * HTTP/2 frames written by hand over a TCP socket, for what well-behaved clients never send
 * (header blocks that never end, resets by the thousand, floods). Only what those tests need:
 * the preface, SETTINGS (acknowledged automatically), HEADERS/CONTINUATION with a literal HPACK
 * encoding, RST_STREAM, PING, and a reader that records what the server sends back.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, CANCEL: 8, REFUSED_STREAM: 7, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A header field as "literal without indexing, new name" (RFC 7541 §6.2.2), no Huffman. */
export function field(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v]);
}

/** A request's header block: the pseudo-headers, then `extra`. */
export function requestBlock(authority: string, path: string, method = 'GET', extra: Array<[string, string]> = []): Buffer {
  return Buffer.concat([
    field(':method', method),
    field(':scheme', 'http'),
    field(':authority', authority),
    field(':path', path),
    ...extra.map(([n, v]) => field(n, v)),
  ]);
}

export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class RawH2 {
  readonly frames: ReceivedFrame[] = [];
  readonly closed: Promise<void>;
  private buffered = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  /** Connects and sends the preface and an empty SETTINGS; `sendPreface: false` sends nothing. */
  static async open(baseUrl: string, sendPreface = true): Promise<RawH2> {
    const u = new URL(baseUrl);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(Number(u.port), u.hostname, () => resolve(s));
      s.once('error', reject);
    });
    const raw = new RawH2(socket);
    if (sendPreface) raw.send(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
    return raw;
  }

  send(data: Buffer): boolean {
    return this.socket.destroyed ? false : this.socket.write(data);
  }

  private read(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) break;
      const f: ReceivedFrame = {
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      };
      this.buffered = this.buffered.subarray(9 + length);
      this.frames.push(f);
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) this.send(frame(FrameType.SETTINGS, Flag.ACK, 0));
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first frame `match` accepts, or undefined once the connection is closed without one. */
  async until(match: (f: ReceivedFrame) => boolean): Promise<ReceivedFrame | undefined> {
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.socket.destroyed) return undefined;
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), this.closed]);
    }
  }

  /** The GOAWAY frame's error code, if the server sent one. */
  goawayCode(): number | undefined {
    const g = this.frames.find((f) => f.type === FrameType.GOAWAY);
    return g === undefined ? undefined : g.payload.readUInt32BE(4);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * An HTTP/2 upstream written frame by frame, for answers node:http2 refuses to send (a status
 * outside 100–599): it answers the client's preface with an empty SETTINGS, acknowledges the
 * client's, and hands each request's stream id to `onRequest`, which writes the answer's frames.
 */
export async function startRawH2Upstream(onRequest: (streamId: number, send: (data: Buffer) => void) => void) {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(frame(FrameType.SETTINGS, 0, 0));
    let buffered = Buffer.alloc(0);
    let prefaceRead = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!prefaceRead) {
        if (buffered.length < PREFACE.length) return;
        buffered = buffered.subarray(PREFACE.length);
        prefaceRead = true;
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        const flags = buffered[4]!;
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(9 + length);
        if (type === FrameType.SETTINGS && (flags & Flag.ACK) === 0) socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
        if (type === FrameType.HEADERS) {
          requests++;
          onRequest(streamId, (data) => void socket.write(data));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
