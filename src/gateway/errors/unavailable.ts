import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Resolution } from '../session/session-resolver.js';
import { sendJsonError, sendSocketError } from './json-error.js';

type Unavailable = Extract<Resolution, { status: 'unavailable' }>;

/**
 * Kratos could not answer: fail closed. Never 401 (the credential may be fine) and never a
 * pass-through. Rate limiting is passed on as 429 so clients back off (Oathkeeper #1167).
 */
function describe(r: Unavailable): { code: number; message: string; headers?: Record<string, string> } {
  if (r.reason === 'rate_limited') {
    return { code: 429, message: 'The identity service is rate limiting; retry later', headers: { 'retry-after': r.retryAfter ?? '1' } };
  }
  if (r.reason === 'timeout') return { code: 503, message: 'The identity service did not answer in time', headers: { 'retry-after': '1' } };
  return { code: 503, message: 'The identity service is unavailable', headers: { 'retry-after': '1' } };
}

export function sendUnavailable(res: ServerResponse, r: Unavailable): number {
  const d = describe(r);
  sendJsonError(res, d.code, d.message, d.headers);
  return d.code;
}

export function sendUnavailableSocket(socket: Duplex, r: Unavailable): void {
  const d = describe(r);
  sendSocketError(socket, d.code, d.message, d.headers);
}
