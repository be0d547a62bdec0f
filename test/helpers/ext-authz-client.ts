/**
 * The Envoy side of the ext_authz gRPC tests: @grpc/grpc-js speaking the reference definitions
 * (test/fixtures/ext-authz/reference.json), never the gateway's own .proto files.
 */
import { credentials, loadPackageDefinition, type Client, type ServiceError, type ChannelOptions } from '@grpc/grpc-js';
import { referencePackage } from './ext-authz-protos.js';

export interface HeaderOption {
  header: { key: string; value?: string };
  append_action?: number;
  keep_empty_value?: boolean;
}

/** A CheckResponse as the reference definitions decode it (defaults left out, enums as numbers). */
export interface CheckResponse {
  status?: { code?: number; message?: string };
  http_response?: 'denied_response' | 'ok_response';
  denied_response?: { status?: { code?: number }; headers?: HeaderOption[]; body?: string };
  ok_response?: { headers?: HeaderOption[]; headers_to_remove?: string[]; response_headers_to_add?: HeaderOption[] };
}

export interface OriginalRequest {
  method?: string;
  path: string;
  host: string;
  headers?: Record<string, string>;
  context_extensions?: Record<string, string>;
}

type CheckClient = Client & {
  Check(request: unknown, callback: (err: ServiceError | null, response?: CheckResponse) => void): void;
};

/** What Envoy sends for `req`: pseudo-headers included, as Envoy includes them. */
export function checkRequestFor(req: OriginalRequest): Record<string, unknown> {
  const method = req.method ?? 'GET';
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.9', port_value: 40000 } } },
      request: {
        time: { seconds: Math.floor(Date.now() / 1000) },
        http: {
          id: '9c7e8d3a-1f2b-4c5d-8e9f-0a1b2c3d4e5f',
          method,
          path: req.path,
          host: req.host,
          scheme: 'https',
          protocol: 'HTTP/1.1',
          headers: { ':authority': req.host, ':method': method, ':path': req.path, ':scheme': 'https', ...req.headers },
        },
      },
      ...(req.context_extensions ? { context_extensions: req.context_extensions } : {}),
    },
  };
}

export function extAuthzClient(adminUrl: string, options: ChannelOptions = {}) {
  const pkg = loadPackageDefinition(referencePackage()) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: new (address: string, creds: unknown, options: ChannelOptions) => CheckClient } } } };
  };
  const client = new pkg.envoy.service.auth.v3.Authorization(new URL(adminUrl).host, credentials.createInsecure(), options);
  return {
    client,
    /** Resolves with the CheckResponse; rejects with the RPC error (its `code`). */
    checkRaw(request: unknown): Promise<CheckResponse> {
      return new Promise((resolve, reject) => client.Check(request, (err, res) => (err ? reject(err) : resolve(res!))));
    },
    check(req: OriginalRequest): Promise<CheckResponse> {
      return this.checkRaw(checkRequestFor(req));
    },
    close: () => client.close(),
  };
}

/** `name → value` of the header options (lower-case names). */
export function headerMap(options: HeaderOption[] | undefined): Record<string, string> {
  return Object.fromEntries((options ?? []).map((o) => [o.header.key.toLowerCase(), o.header.value ?? '']));
}
