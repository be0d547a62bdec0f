/**
 * Load for the ext_authz gRPC service, as Envoy sends it: a few HTTP/2 connections, many
 * concurrent unary calls on each, every call the same pre-encoded CheckRequest. node:http2
 * directly (no gRPC library: its own CPU would be the load generator's, not the gateway's).
 * Bounded by the duration.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import type { LoadResult } from './worker.js';
import { loadResultOf } from './latencies.js';

export interface GrpcCheckLoadSpec {
  kind: 'grpc-check';
  /** The admin listener's URL. */
  url: string;
  /** HTTP/2 connections (Envoy opens one per worker thread). */
  connections: number;
  /** Concurrent calls on each connection. */
  streams: number;
  duration: number;
  warmup?: number;
  /** The length-prefixed CheckRequest, base64. */
  message: string;
}

/**
 * An allow: grpc-status 0 and a CheckResponse whose `ok_response` (field 3) follows its
 * `status` (field 1, a short message): tag 0x0a, length, then tag 0x1a.
 */
function isAllow(data: Buffer): boolean {
  return data.length > 8 && data[5] === 0x0a && data[6]! < 0x80 && data[7 + data[6]!] === 0x1a;
}

async function run(spec: GrpcCheckLoadSpec, seconds: number): Promise<LoadResult> {
  const body = Buffer.from(spec.message, 'base64');
  const sessions: ClientHttp2Session[] = await Promise.all(
    Array.from(
      { length: spec.connections },
      () =>
        new Promise<ClientHttp2Session>((resolve, reject) => {
          const s = connect(spec.url);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const one = (session: ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const stream = session.request({
        ':method': 'POST',
        ':path': '/envoy.service.auth.v3.Authorization/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let grpcStatus = '';
      stream.on('response', (h) => (grpcStatus = String(h['grpc-status'] ?? '')));
      stream.on('trailers', (t) => (grpcStatus = String(t['grpc-status'] ?? grpcStatus)));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => errors++);
      stream.on('close', () => {
        const key = grpcStatus === '0' ? (isAllow(Buffer.concat(chunks)) ? 'allow' : 'deny') : `grpc-${grpcStatus || 'none'}`;
        status[key] = (status[key] ?? 0) + 1;
        if (key === 'allow') latencies.push(performance.now() - t0);
        resolve();
      });
      stream.end(body);
    });
  await Promise.all(
    sessions.flatMap((session) =>
      Array.from({ length: spec.streams }, async () => {
        while (performance.now() < end) await one(session);
      }),
    ),
  );
  const secs = (performance.now() - started) / 1000;
  for (const s of sessions) s.close();
  return loadResultOf(latencies, status, errors, secs);
}

export async function runGrpcCheck(spec: GrpcCheckLoadSpec): Promise<LoadResult> {
  if (spec.warmup) await run(spec, spec.warmup);
  const cpu = process.cpuUsage();
  const result = await run(spec, spec.duration);
  const used = process.cpuUsage(cpu);
  result.loadCpu = (used.user + used.system) / 1e6;
  return result;
}
