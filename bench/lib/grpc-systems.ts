/**
 * The systems of the grpc scenario, each in its own process on its own loopback port, in front
 * of the same gRPC upstream (servers/grpc-upstream.ts) and the same Kratos. Each answers h2c.
 */
import { rssOf, startNode } from './proc.js';
import { startCaddy, startNginx, startSystem, type RunningSystem, type SystemEnv } from './systems.js';

export const GRPC_SYSTEMS = ['direct', 'floor', 'kg', 'nginx', 'caddy'] as const;
export type GrpcSystemId = (typeof GRPC_SYSTEMS)[number];

export const GRPC_LABELS: Record<GrpcSystemId, string> = {
  direct: 'direct to the gRPC server',
  floor: 'floor: node:http2 pass-through, no auth',
  kg: 'kratos-gateway, route upstream_protocol h2c',
  nginx: 'nginx auth_request + grpc_pass',
  caddy: 'Caddy forward_auth + reverse_proxy h2c',
};

export interface GrpcEnv extends SystemEnv {
  /** host:port and http:// URL of the gRPC upstream. */
  grpcAddress: string;
  grpcPort: number;
}

/** A running system; `address` (host:port) is what a gRPC client dials. */
export type GrpcSystem = RunningSystem & { address: string };

const withAddress = (s: RunningSystem): GrpcSystem => ({ ...s, address: s.url.replace(/^http:\/\//, '') });

export async function startGrpcSystem(id: GrpcSystemId, env: GrpcEnv): Promise<GrpcSystem> {
  const upstreamUrl = `http://${env.grpcAddress}`;
  switch (id) {
    case 'direct':
      return { id, url: upstreamUrl, address: env.grpcAddress, pid: 0, rss: () => 0, stop: async () => {} };
    case 'floor': {
      const child = await startNode<{ address: string }>('servers/grpc-floor-proxy.ts', [JSON.stringify({ upstreamUrl })]);
      return withAddress({
        id,
        url: `http://${child.ready.address}`,
        pid: child.pid,
        rss: () => rssOf(child.pid),
        stop: () => child.stop(),
      });
    }
    case 'kg':
      return withAddress(await startSystem('kg', { ...env, gatewayConfig: { ...env.gatewayConfig, grpcUpstreamUrl: upstreamUrl } }));
    case 'nginx':
      return withAddress(
        await startNginx(id, 'nginx-grpc.conf.tmpl', env.peerCpus, () => ({ UPSTREAM_PORT: env.grpcPort, KRATOS_PORT: env.kratosPort })),
      );
    case 'caddy':
      return withAddress(
        await startCaddy(id, 'Caddyfile-grpc.tmpl', env.peerCpus, { UPSTREAM_PORT: env.grpcPort, KRATOS_PORT: env.kratosPort }),
      );
  }
}
