/**
 * The parts of gRPC over HTTP/2 (PROTOCOL-HTTP2.md in grpc/grpc) every gRPC path of the gateway
 * reads or writes the same way: the status codes, which requests are gRPC, `grpc-timeout`, and
 * the percent-encoded `grpc-message`.
 */

/** The status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) the gateway answers with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** `application/grpc`, `application/grpc+proto`, `application/grpc;…` (media types compare case-insensitively, RFC 9110 §8.3.1). */
export function isGrpc(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^application\/grpc(?:[+;]|$)/i.test(contentType);
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` (at most 8 digits and a unit) in milliseconds; undefined when absent, NaN when malformed. */
export function grpcTimeoutMs(header: unknown): number | undefined {
  if (header === undefined) return undefined;
  const m = typeof header === 'string' ? TIMEOUT.exec(header) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : NaN;
}

/**
 * The longest a Node timer waits (2^31-1 ms, about 24.8 days): a longer delay fires after 1 ms.
 * `grpc-timeout` reaches 10^8 hours, and gRPC clients send a far deadline (grpc-js: "2592000S"
 * for 30 days) as it is.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** gRPC's Percent-Encoded form: UTF-8, every byte outside printable ASCII and `%` itself as `%XX`. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
