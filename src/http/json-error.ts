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

/** An answer to write: on an HTTP response, or in an ext_authz CheckResponse. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** `error`: an error id and reason to pass on (Kratos's `session_aal2_required`). */
export function jsonErrorAnswer(
  code: number,
  message: string,
  headers?: Readonly<Record<string, string>>,
  error?: { readonly id: string; readonly reason: string },
): HttpAnswer {
  return {
    status: code,
    headers: { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: jsonErrorBody(code, message, error),
  };
}

export function sendHttpAnswer(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

export function sendJsonError(
  res: ServerResponse,
  code: number,
  message: string,
  headers?: Record<string, string>,
  error?: { readonly id: string; readonly reason: string },
): void {
  sendHttpAnswer(res, jsonErrorAnswer(code, message, headers, error));
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
