/**
 * Refusals of a gRPC request, in the form gRPC clients read: HTTP 200, `content-type:
 * application/grpc`, and the status in a trailers-only response (one HEADERS frame with
 * END_STREAM carrying `grpc-status` and a percent-encoded `grpc-message`). A gRPC client turns
 * an HTTP 401 or 302 into `UNKNOWN`/`UNAVAILABLE` with no hint of the cause; this way it gets
 * `UNAUTHENTICATED`, `PERMISSION_DENIED` and the rest, as a gRPC server would answer.
 *
 * Only HTTP/2 carries gRPC; a gRPC content type over HTTP/1.1 is answered like any HTTP/1.1 request.
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { Refuse, RefuseKind } from '../pipeline/refuse.js';
import { encodeGrpcMessage, GrpcStatus, type GrpcStatusCode } from '../../http/grpc-protocol.js';

const BY_KIND: Record<RefuseKind, GrpcStatusCode> = {
  framing: GrpcStatus.INVALID_ARGUMENT,
  bad_request: GrpcStatus.INVALID_ARGUMENT,
  not_websocket: GrpcStatus.INVALID_ARGUMENT,
  draining: GrpcStatus.UNAVAILABLE,
  no_route: GrpcStatus.UNIMPLEMENTED,
  login: GrpcStatus.UNAUTHENTICATED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  forbidden: GrpcStatus.PERMISSION_DENIED,
  step_up: GrpcStatus.PERMISSION_DENIED,
  unavailable: GrpcStatus.UNAVAILABLE,
};

/** The gRPC status and message for a refusal of the pipeline. */
export function grpcStatusOf(r: Refuse): { status: GrpcStatusCode; message: string } {
  // Kratos rate limiting (passed on as 429): the caller should back off, not fail over.
  if (r.reason === 'unavailable' && r.status === 429) return { status: GrpcStatus.RESOURCE_EXHAUSTED, message: r.message };
  // A step-up names what is missing, as the HTTP answer's error id does.
  const message = r.error === undefined ? r.message : `${r.error.id}: ${r.message}`;
  return { status: BY_KIND[r.reason], message };
}

/**
 * Answers the stream trailers-only. The request body is never read: once the response is
 * complete, Node resets the stream (NO_ERROR), so a refused upload stops at the first window.
 */
export function respondGrpcStatus(stream: ServerHttp2Stream, status: GrpcStatusCode, message: string, requestId: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) return void stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(status),
      'grpc-message': encodeGrpcMessage(message),
      'x-request-id': requestId,
    },
    { endStream: true },
  );
}

export function respondGrpcRefusal(stream: ServerHttp2Stream, r: Refuse, requestId: string): void {
  const { status, message } = grpcStatusOf(r);
  respondGrpcStatus(stream, status, message, requestId);
}
