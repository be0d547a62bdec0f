/**
 * Real HTTP servers on loopback for integration tests: an echo upstream, and a
 * Kratos-whoami fault-injection server whose behaviour each test sets.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { startGateway, type RunningGateway } from '../../src/start-gateway.js';
import { createLogger } from '../../src/log.js';
import { Writable } from 'node:stream';
import { resolve } from 'node:path';

export async function listenOnFreePort(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return `http://127.0.0.1:${addr.port}`;
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface EchoRecord {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** Answers every request with JSON describing what it received; a WebSocket echo on upgrade. */
export async function startEchoUpstream(): Promise<{ url: string; received: EchoRecord[]; close(): Promise<void> }> {
  const received: EchoRecord[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(record);
      if (req.url?.startsWith('/status/')) {
        res.writeHead(Number(req.url.slice(8, 11)), {
          'content-type': 'text/plain',
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
          connection: 'keep-alive',
          'keep-alive': 'timeout=99',
        });
        return res.end('status');
      }
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.end('slow'), 3_000).unref();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(record));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ url: req.url, identity: req.headers['x-kratos-authenticated-identity-id'] ?? null, headers: req.headers }));
      ws.on('message', (m) => ws.send(String(m)));
    });
  });
  const url = await listenOnFreePort(server);
  return {
    url,
    received,
    close: async () => {
      wss.close();
      await closeServer(server);
    },
  };
}

export interface FakeSession {
  identityId: string;
  sessionId?: string;
  active?: boolean;
  expiresAt?: Date;
  traits?: Record<string, unknown>;
  /** `identity.metadata_public` (roles set by admins). */
  metadataPublic?: Record<string, unknown>;
  /** `authenticator_assurance_level`; omitted from the body when undefined (as Kratos v0.6 does). */
  aal?: string;
  /** Default: now (the session was just authenticated). */
  authenticatedAt?: Date;
  /** Default: `default`. */
  schemaId?: string;
  verifiableAddresses?: Array<{ value: string; verified: boolean }>;
}

export type WhoamiFault =
  | { kind: 'normal' }
  | { kind: 'delay'; ms: number }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'garbage' }
  | { kind: 'huge' }
  | { kind: 'hang' };

/**
 * A Kratos whoami fault-injection server: knows sessions by token (X-Session-Token, Bearer
 * or `ory_kratos_session` cookie), counts calls, and misbehaves on demand.
 */
export async function startFakeKratos() {
  const sessions = new Map<string, FakeSession>();
  const state = {
    calls: 0,
    fault: { kind: 'normal' } as WhoamiFault,
    cacheFor: undefined as number | undefined,
    setCookie: undefined as string | undefined,
    lastHeaders: undefined as IncomingHttpHeaders | undefined,
  };
  const server = createServer((req, res) => {
    if (req.url === '/health/alive') return res.end('{"status":"ok"}');
    if (!req.url?.startsWith('/sessions/whoami')) {
      res.writeHead(404);
      return res.end();
    }
    state.calls++;
    state.lastHeaders = req.headers;
    const answer = () => {
      const f = state.fault;
      if (f.kind === 'status') {
        res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
        return res.end('{"error":{"code":' + f.status + '}}');
      }
      if (f.kind === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"id": not json');
      }
      if (f.kind === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"pad":"');
        for (let i = 0; i < 3; i++) res.write('x'.repeat(1024 * 1024));
        return res.end('"}');
      }
      const token =
        (req.headers['x-session-token'] as string | undefined) ??
        /ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ??
        /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const s = token === undefined ? undefined : sessions.get(token);
      if (!s || s.active === false || (s.expiresAt && s.expiresAt.getTime() <= Date.now())) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"error":{"code":401,"status":"Unauthorized","message":"The request could not be authorized"}}');
      }
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-kratos-authenticated-identity-id': s.identityId };
      if (state.cacheFor !== undefined) headers['ory-session-cache-for'] = String(state.cacheFor);
      if (state.setCookie !== undefined) headers['set-cookie'] = state.setCookie;
      res.writeHead(200, headers);
      const now = new Date();
      res.end(
        JSON.stringify({
          id: s.sessionId ?? `session-${s.identityId}`,
          active: true,
          expires_at: (s.expiresAt ?? new Date(Date.now() + 86_400_000)).toISOString(),
          authenticated_at: (s.authenticatedAt ?? now).toISOString(),
          issued_at: now.toISOString(),
          ...(s.aal === undefined ? {} : { authenticator_assurance_level: s.aal }),
          identity: {
            id: s.identityId,
            schema_id: s.schemaId ?? 'default',
            schema_url: `http://kratos/schemas/${s.schemaId ?? 'default'}`,
            traits: s.traits ?? {},
            ...(s.metadataPublic === undefined ? {} : { metadata_public: s.metadataPublic }),
            ...(s.verifiableAddresses === undefined
              ? {}
              : {
                  verifiable_addresses: s.verifiableAddresses.map((a) => ({
                    ...a,
                    via: 'email',
                    status: a.verified ? 'completed' : 'pending',
                  })),
                }),
          },
        }),
      );
    };
    const f = state.fault;
    if (f.kind === 'hang') return;
    if (f.kind === 'delay') setTimeout(answer, f.ms);
    else answer();
  });
  const url = await listenOnFreePort(server);
  return {
    url,
    state,
    sessions,
    addSession(s: Partial<FakeSession> = {}): { token: string; identityId: string } {
      const token = randomUUID().replaceAll('-', '');
      const identityId = s.identityId ?? randomUUID();
      sessions.set(token, { identityId, ...s });
      return { token, identityId };
    },
    close: () => closeServer(server),
  };
}

/** A logger that keeps every line, so tests can assert what was (and was not) logged. */
export function memoryLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

/** `embedded_kratos` on free ports with an in-memory database, configured by `configFile` (the repository's config/kratos.yml by default). */
export function embeddedKratos(configFile = resolve('config/kratos.yml')) {
  return { enabled: true, config_file: configFile, dsn: ':memory:', public_listen: { port: 0 }, admin_listen: { port: 0 } };
}

export function testConfig(raw: Record<string, unknown>): GatewayConfig {
  return parseConfig({
    ...raw,
    proxy: { listen: { port: 0 }, ...(raw.proxy as object) },
    admin: { listen: { port: 0 }, ...(raw.admin as object) },
    ui: { enabled: false, ...(raw.ui as object) },
  });
}

export async function startTestGateway(raw: Record<string, unknown>): Promise<RunningGateway & { logLines: string[] }> {
  const { logger, lines } = memoryLogger();
  const gw = await startGateway(testConfig(raw), { logger });
  return Object.assign(gw, { logLines: lines });
}

/**
 * Sends one raw HTTP/1.1 request over a new socket and returns the raw response text.
 * For what HTTP clients refuse to send (odd Connection headers, Trailer, bad paths).
 */
export async function rawRequest(baseUrl: string, lines: string[], body = ''): Promise<string> {
  const { connect } = await import('node:net');
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(lines.join('\r\n') + '\r\n\r\n' + body);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      const headerEnd = text.indexOf('\r\n\r\n');
      if (headerEnd !== -1) {
        const len = /content-length: (\d+)/i.exec(text.slice(0, headerEnd));
        if (len && Buffer.byteLength(text.slice(headerEnd + 4)) >= Number(len[1])) socket.end();
      }
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
  });
}

/** Sends bytes as they are and collects everything until the gateway closes the connection (latin1: byte for byte). */
export async function exchange(baseUrl: string, data: string): Promise<string> {
  const { connect } = await import('node:net');
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(u.port), u.hostname, () => s.write(data));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('no close')));
  });
}

/** A port that was free a moment ago, for configs that must name their own URL up front. */
/** The kernel's ephemeral range (outgoing connections and `listen(0)` take ports from it). */
function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && low > 11_000) return [low, high];
  } catch {
    // not Linux: fall back to the common default
  }
  return [32_768, 60_999];
}

function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port for a process the test starts later with a fixed port (a gateway process, redis-server).
 * Chosen below the ephemeral range: a port found free there cannot be handed to an outgoing
 * connection or a `listen(0)` of a parallel test before the process binds it (it was, now and
 * then, with a port from `listen(0)`: "already in use").
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralPorts();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range after 100 attempts');
}

export type Stack = {
  upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  kratos: Awaited<ReturnType<typeof startFakeKratos>>;
  gw: Awaited<ReturnType<typeof startTestGateway>>;
  close(): Promise<void>;
};

/**
 * The usual test rig: an echo upstream, a fake Kratos and a gateway pointed at that Kratos.
 * `config` receives both URLs and returns the rest of the gateway configuration.
 */
export async function startStack(config: (urls: { upstream: string; kratos: string }) => Record<string, unknown>): Promise<Stack> {
  const upstream = await startEchoUpstream();
  const kratos = await startFakeKratos();
  const gw = await startTestGateway({ kratos: { public_url: kratos.url }, ...config({ upstream: upstream.url, kratos: kratos.url }) });
  return {
    upstream,
    kratos,
    gw,
    async close() {
      await gw.shutdown();
      await upstream.close();
      await kratos.close();
    },
  };
}
