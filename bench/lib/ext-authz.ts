/**
 * Scenario `ext-authz`: the same decision asked two ways of one kratos-gateway (`kg`, one cached
 * session), in the same run, alternating: the HTTP decision API (autocannon, Envoy's HTTP form
 * `GET /decisions/`) and the ext_authz gRPC service (`Check` over h2c, as Envoy sends it: few
 * connections, many calls on each). Calls per second, latency, and CPU per call of the gateway.
 * Bounded: 2 × reps runs of `duration` seconds, each after a warm-up.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { measure, summarize, type MeasureContext, type Sample } from './measure.js';
import type { ScenarioReport } from './report.js';
import type { RunningSystem } from './systems.js';
import type { LoadSpec } from './load.js';

export interface ExtAuthzOptions {
  ctx: MeasureContext;
  kg: RunningSystem;
  token: string;
  duration: number;
  warmup: number;
  reps: number;
  /** Concurrent calls in all, for both forms. */
  connections: number;
  /** HTTP/2 connections the gRPC calls share. */
  grpcConnections: number;
  log: (line: string) => void;
}

/** A CheckRequest as Envoy sends it for `GET /` with the session token, encoded by Envoy's definitions, length-prefixed. */
function checkRequest(token: string): string {
  const json = JSON.parse(
    readFileSync(new URL('../../test/fixtures/ext-authz/reference.json', import.meta.url), 'utf8'),
  ) as protobuf.INamespace;
  const CheckRequest = protobuf.Root.fromJSON(json).lookupType('envoy.service.auth.v3.CheckRequest');
  const headers = {
    ':authority': 'app.example.com',
    ':method': 'GET',
    ':path': '/',
    ':scheme': 'https',
    accept: '*/*',
    'user-agent': 'curl/8.5.0',
    'x-forwarded-proto': 'https',
    'x-request-id': 'b0e1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d',
    'x-session-token': token,
  };
  const message = CheckRequest.encode(
    CheckRequest.fromObject({
      attributes: {
        source: { address: { socket_address: { address: '10.0.0.7', port_value: 51000 } } },
        request: {
          http: {
            id: headers['x-request-id'],
            method: 'GET',
            path: '/',
            host: 'app.example.com',
            scheme: 'https',
            protocol: 'HTTP/1.1',
            headers,
          },
        },
      },
    }),
  ).finish();
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]).toString('base64');
}

export async function extAuthzScenario(o: ExtAuthzOptions): Promise<ScenarioReport> {
  const adminUrl = o.kg.adminUrl;
  if (adminUrl === undefined) throw new Error('ext-authz: the system has no admin listener');
  const streams = Math.max(1, Math.round(o.connections / o.grpcConnections));
  const specs: Record<'http' | 'grpc', (seconds: number) => LoadSpec> = {
    http: (seconds) => ({
      kind: 'http',
      url: adminUrl + '/decisions/',
      connections: o.connections,
      duration: seconds,
      tokens: { mode: 'fixed', token: o.token },
    }),
    grpc: (seconds) => ({
      kind: 'grpc-check',
      url: adminUrl,
      connections: o.grpcConnections,
      streams,
      duration: seconds,
      message: checkRequest(o.token),
    }),
  };
  const raw: Record<string, Sample[]> = {};
  for (let r = 0; r < o.reps; r++) {
    for (const form of r % 2 === 0 ? (['http', 'grpc'] as const) : (['grpc', 'http'] as const)) {
      const spec = specs[form](o.duration);
      const sample = await measure(o.ctx, o.kg, { ...spec, warmup: o.warmup } as LoadSpec);
      (raw[form] ??= []).push(sample);
      o.log(
        `ext-authz rep ${r + 1} ${form.padEnd(4)} ${Math.round(sample.rps)} calls/s p99 ${sample.p99.toFixed(2)} ms ${(1e6 / sample.perCoreSecond).toFixed(1)} µs CPU/call not-allowed ${sample.non2xx} errors ${sample.errors}`,
      );
    }
  }
  const rows = Object.fromEntries(Object.entries(raw).map(([form, ss]) => [form, summarize(ss)]));
  const label = {
    http: `HTTP decision API (HTTP/1.1, ${o.connections} connections)`,
    grpc: `ext_authz gRPC Check (h2c, ${o.grpcConnections} connections × ${streams} calls)`,
  };
  const table = [
    '| asked over | calls/s | p50 ms | p99 ms | CPU per call | calls per CPU-second | not allowed | errors | other load (max) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...(['http', 'grpc'] as const)
      .filter((form) => rows[form] !== undefined)
      .map((form) => {
        const row = rows[form]!;
        return `| ${label[form]} | ${Math.round(row.rps).toLocaleString('en-US')} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${(1e6 / row.perCoreSecond).toFixed(1)} µs | ${Math.round(row.perCoreSecond).toLocaleString('en-US')} | ${row.non2xx} | ${row.errors} | ${Math.round(row.otherBusy * 100)}% |`;
      }),
  ];
  return { title: '(ext-authz) one cached session: HTTP decision API vs ext_authz gRPC', rows, raw, extra: { table } };
}
