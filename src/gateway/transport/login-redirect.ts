import type { ServerResponse } from 'node:http';

/** Browsers navigating to a protected page are sent to log in, and brought back afterwards. */
export function sendLoginRedirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}
