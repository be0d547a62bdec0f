/**
 * A fleet for the shared-cache tests: one real redis-server, one embedded identity server (in this
 * process), three real gateway processes (A, B, C) sharing both through KRATOS_GATEWAY_* env
 * overrides, and an echo upstream that shows the identity headers each request carried.
 *
 * whoami calls are counted twice: per instance from each gateway's /metrics, and independently
 * by a pass-through in front of the identity server (a store that asked Kratos through some other
 * client than the counted one would still show there). Every credential the harness mints is kept
 * in `secrets`, so a test can look for it in Redis, in pub/sub traffic and in the logs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent as HttpAgent, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { spawnGateway, type GatewayProcess } from '../../helpers/process.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { closeServer, freePort, listenOnFreePort, startEchoUpstream, type EchoRecord } from '../../helpers/servers.js';
import { SettableClock } from '../../../src/identity/index.js';
import { Browser, registerBrowser, startTestServer, type TestServer } from '../identity/helpers.js';

/** How long any one request of these tests may take before it fails, naming what it was. */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * How long a revocation or change made through one instance (or at the identity server, with
 * revalidation) may take to reach the others: far above the milliseconds it takes, even on a
 * loaded machine, and far below ttl_cap_ms (60 s), which is how long an instance that was never
 * told would go on serving its cached entry.
 */
export const PROPAGATION_BOUND_MS = 20_000;

/**
 * session_cache.shared.timeout_ms for the fleet. The default (25 ms) is shorter than a loaded
 * machine may keep a process off the CPU, and a healthy lookup that times out turns into a whoami
 * that the whoami counts of these tests would take for a missing L2 or missing coalescing.
 */
export const SHARED_TIMEOUT_MS = 1_000;

/**
 * undici's request with a bound: a hung answer fails the test with the method and URL it was
 * waiting on (undici's own default is 300 s, and its timeout error does not say which request).
 */
export async function send(
  url: string,
  options: {
    method?: Dispatcher.HttpMethod;
    headers?: Record<string, string>;
    body?: string;
    dispatcher?: Dispatcher;
    timeoutMs?: number;
  } = {},
): Promise<Dispatcher.ResponseData> {
  const { timeoutMs = REQUEST_TIMEOUT_MS, ...rest } = options;
  try {
    return await request(url, { ...rest, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new Error(`${options.method ?? 'GET'} ${url}: ${(err as Error).message}`, { cause: err });
  }
}

export const PASSWORD = 'correct horse battery staple 11';

export interface Instance {
  readonly name: string;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** The Kratos public API mount on this instance's proxy listener. */
  readonly mount: string;
  readonly process: GatewayProcess;
}

export interface Answer {
  status: number;
  /** Wall time of the request as the client saw it. */
  ms: number;
  /** What the upstream received (the identity headers), when the gateway let the request through. */
  echo: EchoRecord | undefined;
}

export interface Member {
  email: string;
  identityId: string;
  /** The headers that carry this member's credential (X-Session-Token or Cookie). */
  headers: Record<string, string>;
  /** The session token, for API-flow members. */
  token?: string;
}

export interface FleetOptions {
  /** Merged into every instance's `session_cache` (shared.* comes from the environment). */
  sessionCache?: Record<string, unknown>;
}

/** Forwards everything to the identity server's public API and counts /sessions/whoami. */
async function countingFront(target: string): Promise<{ url: string; whoami(): number; close(): Promise<void> }> {
  const t = new URL(target);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  let whoami = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/sessions/whoami')) whoami++;
    const out = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.rawHeaders);
        upstream.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  const url = await listenOnFreePort(server);
  return {
    url,
    whoami: () => whoami,
    close: async () => {
      agent.destroy();
      await closeServer(server);
    },
  };
}

export class Fleet {
  readonly secrets = new Set<string>();
  /** Every pub/sub message seen on the fleet's Redis while the fleet ran (PSUBSCRIBE *). */
  readonly messages: Array<{ channel: string; message: string }> = [];
  private dispatcher = new Agent({ connections: 512, pipelining: 0 });
  private subscriber: Redis | undefined;

  private constructor(
    readonly redis: TestRedis & { close(): Promise<void> },
    readonly identity: TestServer,
    readonly upstream: Awaited<ReturnType<typeof startEchoUpstream>>,
    private readonly front: Awaited<ReturnType<typeof countingFront>>,
    readonly keyPrefix: string,
    readonly instances: Instance[],
    private readonly dir: string,
  ) {}

  static async start(options: FleetOptions = {}, names = ['A', 'B', 'C']): Promise<Fleet> {
    const redis = await startRedis();
    const identity = await startTestServer({ clock: new SettableClock(new Date()) });
    const upstream = await startEchoUpstream();
    const front = await countingFront(identity.publicUrl);
    const keyPrefix = `kgw-fleet-${randomBytes(4).toString('hex')}:`;
    const dir = mkdtempSync(join(tmpdir(), 'kgw-fleet-'));
    const file = join(dir, 'gateway.yaml');
    // What every instance shares; what differs (ports) and what the fleet shares through
    // infrastructure (Kratos, Redis) comes from the environment, as an operator's pods would.
    writeFileSync(
      file,
      stringify({
        proxy: { shutdown_grace_ms: 500 },
        ui: { enabled: false },
        log: { level: 'info' },
        session_cache: { ttl_cap_ms: 60_000, ...options.sessionCache },
        identity_headers: { 'X-User-Email': 'identity.traits.email', 'X-User-First-Name': 'identity.traits.name.first' },
        routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required', on_unauthenticated: 'json' }],
      }),
    );
    const instances: Instance[] = [];
    try {
      for (const name of names) {
        const [proxy, admin] = [await freePort(), await freePort()];
        const proxyUrl = `http://127.0.0.1:${proxy}`;
        const process = spawnGateway(['--config', file], {
          KRATOS_GATEWAY_PROXY__LISTEN__PORT: String(proxy),
          KRATOS_GATEWAY_PROXY__PUBLIC_BASE_URL: proxyUrl,
          KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(admin),
          KRATOS_GATEWAY_KRATOS__PUBLIC_URL: front.url,
          KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL: redis.url,
          KRATOS_GATEWAY_SESSION_CACHE__SHARED__KEY_PREFIX: keyPrefix,
          KRATOS_GATEWAY_SESSION_CACHE__SHARED__TIMEOUT_MS: String(SHARED_TIMEOUT_MS),
        });
        instances.push({ name, proxyUrl, adminUrl: `http://127.0.0.1:${admin}`, mount: `${proxyUrl}/.ory/kratos/public`, process });
      }
      await Promise.all(instances.map((i) => i.process.waitFor('stderr', (t) => t.includes('kratos-gateway is running.'), 90_000)));
    } catch (err) {
      await Promise.all(instances.map((i) => i.process.stop()));
      await Promise.all([front.close(), upstream.close(), identity.close(), redis.close()]);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const fleet = new Fleet(redis, identity, upstream, front, keyPrefix, instances, dir);
    await fleet.listen();
    return fleet;
  }

  /** Captures every message published on the fleet's Redis, across a Redis restart too. */
  private async listen(): Promise<void> {
    const sub = new Redis(this.redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    sub.on('error', () => {}); // refused while a test has Redis stopped; it reconnects and re-subscribes
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => this.messages.push({ channel, message }));
    await sub.psubscribe('*');
    this.subscriber = sub;
  }

  get A(): Instance {
    return this.instances[0]!;
  }
  get B(): Instance {
    return this.instances[1]!;
  }
  get C(): Instance {
    return this.instances[2]!;
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    await Promise.all(this.instances.map((i) => i.process.stop()));
    await this.dispatcher.close();
    await Promise.all([this.front.close(), this.upstream.close(), this.identity.close(), this.redis.close()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines an instance printed other than access lines, for failure messages. */
  logTail(instance: Instance, lines = 8): string {
    const out = (instance.process.stdout() + instance.process.stderr())
      .split('\n')
      .filter((l) => l !== '' && !l.includes('"msg":"request"'));
    return `--- ${instance.name} (pid ${instance.process.child.pid}, exit ${instance.process.child.exitCode}):\n${out.slice(-lines).join('\n')}`;
  }

  /** Everything every instance printed, for the "no credential in the logs" check. */
  output(): string {
    return this.instances.map((i) => i.process.stdout() + i.process.stderr()).join('\n');
  }

  // ---------- credentials ----------

  /** A new identity signed up through the API flow at the identity server itself (no gateway sees it). */
  async apiMember(label: string, first = 'Ada'): Promise<Member> {
    const email = `${label}-${randomBytes(4).toString('hex')}@fleet.example.com`;
    const base = this.identity.publicUrl;
    const init = await send(`${base}/self-service/registration/api`, { headers: { accept: 'application/json' } });
    const flow = (await init.body.json()) as { id: string };
    const submit = await send(`${base}/self-service/registration?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ method: 'password', password: PASSWORD, traits: { email, name: { first } } }),
    });
    const body = (await submit.body.json()) as { session_token: string; identity: { id: string } };
    assert.equal(submit.statusCode, 200, JSON.stringify(body));
    this.secrets.add(body.session_token);
    return { email, identityId: body.identity.id, token: body.session_token, headers: { 'x-session-token': body.session_token } };
  }

  /** A new identity signed up through the browser flow: its credential is the session cookie. */
  async browserMember(label: string): Promise<Member> {
    const email = `${label}-${randomBytes(4).toString('hex')}@fleet.example.com`;
    const browser = new Browser(false);
    await registerBrowser(this.identity, browser, email, PASSWORD);
    const cookie = browser.jar.get('ory_kratos_session');
    assert.ok(cookie, 'the browser registration set the session cookie');
    this.secrets.add(cookie);
    const identityId = await this.identityIdOf(email);
    return { email, identityId, headers: { cookie: `ory_kratos_session=${cookie}` } };
  }

  private async identityIdOf(email: string): Promise<string> {
    const res = await send(`${this.identity.adminUrl}/identities?per_page=500`);
    const list = (await res.body.json()) as Array<{ id: string; traits: { email: string } }>;
    const found = list.find((i) => i.traits.email === email);
    assert.ok(found, `identity ${email} exists`);
    return found.id;
  }

  /** Revokes every session of an identity at the identity server's admin API (deletes it): no gateway is involved. */
  async revokeAtKratos(identityId: string): Promise<void> {
    const res = await send(`${this.identity.adminUrl}/identities/${identityId}`, { method: 'DELETE' });
    await res.body.dump();
    assert.equal(res.statusCode, 204);
  }

  // ---------- requests ----------

  /** One request to the protected app through `instance`, with `headers` as credentials. */
  async call(instance: Instance, headers: Record<string, string>, path = '/app', timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
    const t = performance.now();
    const res = await send(instance.proxyUrl + path, {
      headers: { accept: 'application/json', ...headers },
      dispatcher: this.dispatcher,
      timeoutMs,
    });
    const text = await res.body.text();
    const ms = performance.now() - t;
    let echo: EchoRecord | undefined;
    if (res.statusCode === 200) echo = JSON.parse(text) as EchoRecord;
    return { status: res.statusCode, ms, echo };
  }

  async status(instance: Instance, member: Member): Promise<number> {
    return (await this.call(instance, member.headers)).status;
  }

  /**
   * Polls `instance` with `member`'s credential until it is rejected (401); resolves with the
   * milliseconds that took, or fails after `boundMs`.
   */
  async rejectedWithin(instance: Instance, member: Member, boundMs: number, since = performance.now()): Promise<number> {
    for (let i = 0; i < 10_000; i++) {
      const last = await this.status(instance, member);
      const elapsed = performance.now() - since;
      if (last === 401) return elapsed;
      assert.equal(last, 200, `${instance.name} answered ${last} while the revocation propagated`);
      if (elapsed > boundMs) break;
      await sleep(20);
    }
    return assert.fail(`${instance.name} still served ${member.email}'s revoked credential ${boundMs} ms after the revocation`);
  }

  // ---------- metrics ----------

  async metrics(instance: Instance): Promise<string> {
    const res = await send(instance.adminUrl + '/metrics').catch((err: Error) => {
      throw new Error(`${instance.name}: ${err.message}\n${this.logTail(instance)}`, { cause: err });
    });
    assert.equal(res.statusCode, 200);
    return res.body.text();
  }

  /** Sum of every series of `name` (all label values) on one instance; NaN when absent. */
  async metric(instance: Instance, name: string): Promise<number> {
    const text = await this.metrics(instance);
    let sum = NaN;
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      if (line.startsWith(name + '{') || line.startsWith(name + ' '))
        sum = (Number.isNaN(sum) ? 0 : sum) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** whoami calls per instance (A, B, C order) from their /metrics. */
  async whoamiPerInstance(): Promise<number[]> {
    return Promise.all(this.instances.map((i) => this.metric(i, 'kratos_gateway_whoami_requests_total')));
  }

  /** whoami calls the identity server received, counted in front of it. */
  kratosWhoami(): number {
    return this.front.whoami();
  }

  /** Waits until `check` holds for every instance (bounded). */
  async untilEvery(what: string, check: (i: Instance) => Promise<boolean>, boundMs: number): Promise<void> {
    const end = Date.now() + boundMs;
    const pending = new Set(this.instances);
    while (Date.now() < end) {
      for (const i of [...pending]) if (await check(i)) pending.delete(i);
      if (pending.size === 0) return;
      await sleep(50);
    }
    assert.fail(
      `${what}: still not the case on ${[...pending].map((i) => i.name).join(', ')} after ${boundMs} ms\n${[...pending].map((i) => this.logTail(i)).join('\n')}`,
    );
  }

  // ---------- what Redis holds ----------

  /** Every key of the Redis and its value(s), read by type, as text. */
  async redisContents(): Promise<Array<{ key: string; type: string; value: string }>> {
    const client = new Redis(this.redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      const out: Array<{ key: string; type: string; value: string }> = [];
      let cursor = '0';
      for (let rounds = 0; rounds < 10_000; rounds++) {
        const [next, keys] = await client.scan(cursor, 'COUNT', 500);
        for (const key of keys) {
          const type = await client.type(key);
          let parts: Array<string | Buffer> = [];
          if (type === 'string') parts = [(await client.getBuffer(key)) ?? ''];
          else if (type === 'hash') parts = await client.hgetallBuffer(key).then((h) => Object.entries(h).flatMap(([k, v]) => [k, v]));
          else if (type === 'set') parts = await client.smembersBuffer(key);
          else if (type === 'zset') parts = await client.zrangeBuffer(key, 0, -1);
          else if (type === 'list') parts = await client.lrangeBuffer(key, 0, -1);
          else if (type === 'stream') parts = [JSON.stringify(await client.xrange(key, '-', '+'))];
          out.push({ key, type, value: parts.map((p) => (typeof p === 'string' ? p : p.toString('latin1'))).join('\n') });
        }
        cursor = next;
        if (cursor === '0') break;
      }
      return out;
    } finally {
      client.disconnect();
    }
  }

  /** The forms a credential could take if a store wrote it down carelessly. */
  static encodings(secret: string): string[] {
    const forms = new Set([
      secret,
      encodeURIComponent(secret),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('base64url'),
      Buffer.from(secret).toString('hex'),
    ]);
    return [...forms];
  }

  /** Every credential minted so far that occurs (in any of its encodings) in `text`. */
  leakedIn(text: string): string[] {
    return [...this.secrets].filter((s) => Fleet.encodings(s).some((f) => text.includes(f)));
  }

  /**
   * Every key is under the fleet's prefix; no key, value or pub/sub message seen so far holds any
   * credential the harness minted. Fails when Redis is empty or nothing was published: then the
   * check would prove nothing.
   */
  async assertNoCredentialInRedis(): Promise<void> {
    assert.ok(this.secrets.size >= 3, 'the tests used credentials');
    const contents = await this.redisContents();
    assert.ok(contents.length > 0, 'the fleet keeps something in Redis (else this check proves nothing)');
    for (const { key } of contents) assert.ok(key.startsWith(this.keyPrefix), `key outside the prefix: ${key}`);
    for (const { key, type, value } of contents) {
      assert.deepEqual(this.leakedIn(key), [], `a credential in the key ${key}`);
      assert.deepEqual(this.leakedIn(value), [], `a credential in the ${type} value of ${key}`);
    }
    assert.ok(this.messages.length > 0, 'invalidations were published (else this check proves nothing)');
    for (const { channel, message } of this.messages) {
      assert.ok(channel.startsWith(this.keyPrefix), `channel outside the prefix: ${channel}`);
      assert.deepEqual(this.leakedIn(channel + '\n' + message), [], `a credential in a message on ${channel}`);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The identity headers the upstream received (lower-case names). */
export function identityHeaders(a: Answer): { email: unknown; first: unknown } {
  return { email: a.echo?.headers['x-user-email'], first: a.echo?.headers['x-user-first-name'] };
}
