import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { sendJsonError, sendSocketError } from './json-error.js';

export const WWW_AUTHENTICATE = 'Bearer realm="kratos-gateway", Session realm="kratos-gateway"';
const MESSAGE = 'The request could not be authorized';

/** API clients get 401 JSON with a challenge; they must not be sent to an HTML login page. */
export function sendUnauthorized(res: ServerResponse): void {
  sendJsonError(res, 401, MESSAGE, { 'www-authenticate': WWW_AUTHENTICATE });
}

export function sendUnauthorizedSocket(socket: Duplex): void {
  sendSocketError(socket, 401, MESSAGE, { 'www-authenticate': WWW_AUTHENTICATE });
}

/** Browsers navigating to a protected page are sent to log in, and brought back afterwards. */
export function sendLoginRedirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}
