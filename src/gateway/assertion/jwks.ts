import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the proxy port and the admin listener publish the identity assertion's public keys. */
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * Cacheable for five minutes: verifiers (jose's createRemoteJWKSet) fetch again on an unknown
 * `kid`, so a rotation is picked up when the first token signed with the new key arrives.
 */
export function sendJwks(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
    return void res.end();
  }
  res.writeHead(200, {
    'content-type': 'application/jwk-set+json',
    'cache-control': 'public, max-age=300',
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
