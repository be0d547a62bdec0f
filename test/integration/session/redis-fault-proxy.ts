/**
 * A TCP proxy in front of a real redis-server for the shared-cache tests: it can freeze the
 * connections open at that moment (nothing forwarded, nothing closed: a network path that went
 * silent, as after a failover that moved an IP without a reset) while new connections pass, and
 * delay what Redis sends on command connections (not on those that sent SUBSCRIBE), so a reply
 * can be made to arrive after a pub/sub message Redis sent later; or hold them until the test lets
 * them go, so that "after" depends on no clock. Delayed or not, what Redis sent on one connection
 * arrives in order, as over any TCP path.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface RedisFaultProxy {
  readonly url: string;
  /** Connections open now stop forwarding either way and are never closed by the proxy. */
  freeze(): void;
  /** Blocked: open connections are closed and new ones refused (a partition); unblocked: all pass again. */
  block(on: boolean): void;
  /** Replies to command connections are held this long (0: none). */
  delayCommandReplies(ms: number): void;
  /** On: replies to command connections are held until it is turned off, then sent in order. */
  holdCommandReplies(on: boolean): void;
  /** Chunks of replies held by holdCommandReplies now (not 0: Redis has run a command whose reply it holds). */
  heldReplies(): number;
  close(): Promise<void>;
}

export async function startRedisFaultProxy(redisPort: number): Promise<RedisFaultProxy> {
  type Pair = {
    client: Socket;
    server: Socket;
    frozen: boolean;
    subscriber: boolean;
    held: { at: number; data: Buffer }[];
    timer?: NodeJS.Timeout;
  };
  const pairs = new Set<Pair>();
  /** The `at` of a reply held until holdCommandReplies(false). */
  const UNTIL_RELEASED = Number.POSITIVE_INFINITY;
  /** Sends what is held for `pair`, oldest first, each once its time has come. */
  const pump = (pair: Pair) => {
    const next = pair.held[0];
    if (next === undefined || pair.timer !== undefined || next.at === UNTIL_RELEASED) return;
    pair.timer = setTimeout(
      () => {
        pair.timer = undefined;
        const { data } = pair.held.shift()!;
        if (!pair.frozen && !pair.client.destroyed) pair.client.write(data);
        pump(pair);
      },
      Math.max(0, next.at - Date.now()),
    );
  };
  let delayMs = 0;
  let holding = false;
  let blocked = false;
  const server = createServer((client) => {
    if (blocked) return void client.destroy();
    const upstream = connect(redisPort, '127.0.0.1');
    const pair: Pair = { client, server: upstream, frozen: false, subscriber: false, held: [] };
    pairs.add(pair);
    client.on('data', (d: Buffer) => {
      if (pair.frozen) return;
      if (d.toString('latin1').toUpperCase().includes('SUBSCRIBE')) pair.subscriber = true;
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (pair.frozen) return;
      // Behind anything still held: a shorter delay set meanwhile does not let a reply overtake.
      if (((delayMs > 0 || holding) && !pair.subscriber) || pair.held.length > 0) {
        const at = pair.subscriber ? Date.now() : holding ? UNTIL_RELEASED : Date.now() + delayMs;
        pair.held.push({ at, data: d });
        pump(pair);
      } else client.write(d);
    });
    const end = () => {
      if (pair.frozen) return;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    block(on) {
      blocked = on;
      if (on)
        for (const p of [...pairs]) {
          p.client.destroy();
          p.server.destroy();
        }
    },
    delayCommandReplies(ms) {
      delayMs = ms;
    },
    holdCommandReplies(on) {
      holding = on;
      if (on) return;
      for (const p of pairs) {
        for (const h of p.held) if (h.at === UNTIL_RELEASED) h.at = Date.now();
        pump(p);
      }
    },
    heldReplies() {
      let n = 0;
      for (const p of pairs) n += p.held.filter((h) => h.at === UNTIL_RELEASED).length;
      return n;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
