import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Kratos/herodot error shape, so clients handle gateway and Kratos errors alike. */
export function jsonErrorBody(code: number, message: string, error?: { readonly id: string; readonly reason: string }): string {
  const status = STATUS_CODES[code] ?? 'Error';
  return JSON.stringify({
    error: error === undefined ? { code, status, message } : { code, status, id: error.id, reason: error.reason, message },
  });
}

/** `error`: an error id and reason to pass on (Kratos's `session_aal2_required`). */
export function sendJsonError(
  res: ServerResponse,
  code: number,
  message: string,
  headers?: Record<string, string>,
  error?: { readonly id: string; readonly reason: string },
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = jsonErrorBody(code, message, error);
  res.writeHead(code, jsonErrorHeaders(body, headers));
  res.end(body);
}

/** The headers of a JSON error with this body, after the refusal's own (`WWW-Authenticate`, `Retry-After`). */
export function jsonErrorHeaders(body: string, headers?: Readonly<Record<string, string>>): Record<string, string | number> {
  return {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
}

/** The same answer on a raw socket, for a refused WebSocket handshake. Closes the connection. */
export function sendSocketError(
  socket: Duplex,
  code: number,
  message: string,
  headers?: Record<string, string>,
  error?: { readonly id: string; readonly reason: string },
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = jsonErrorBody(code, message, error);
  const lines = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    'cache-control: no-store',
  ];
  for (const [k, v] of Object.entries(headers ?? {})) lines.push(`${k}: ${v}`);
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
}
