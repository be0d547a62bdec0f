import type { ServerResponse } from 'node:http';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A browser navigation a route policy refuses: a small page a person can read, not JSON. */
export function forbiddenPage(message: string): { headers: Record<string, string | number>; body: string } {
  const text = message.replace(/[&<>"']/g, (c) => escapes[c]!);
  const body = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><p>${text}</p></body></html>\n`;
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    // Nothing on this page needs to load or run.
    'content-security-policy': "default-src 'none'",
  };
  return { headers, body };
}

export function sendForbiddenPage(res: ServerResponse, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { headers, body } = forbiddenPage(message);
  res.writeHead(403, headers);
  res.end(body);
}
