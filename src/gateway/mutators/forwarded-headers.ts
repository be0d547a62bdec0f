import type { HeaderMutator } from './types.js';

/**
 * `X-Forwarded-For/Proto/Host`: incoming values are kept only from a trusted proxy;
 * otherwise every forwarding header the client sent is dropped and replaced with what the
 * gateway observed (Traefik CVE-2026-35051 / CVE-2026-54764 were X-Forwarded-Prefix/Port).
 */
export const forwardedHeaders: HeaderMutator = {
  mutate(headers, ctx) {
    const peer = ctx.peerAddress ?? '';
    if (ctx.peerTrusted) {
      const xff = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
      headers['x-forwarded-proto'] ??= ctx.encrypted ? 'https' : 'http';
      if (headers['x-forwarded-host'] === undefined && headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
    } else {
      for (const name in headers) {
        if (name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip') delete headers[name];
      }
      headers['x-forwarded-for'] = peer;
      headers['x-forwarded-proto'] = ctx.encrypted ? 'https' : 'http';
      if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
    }
    headers['x-request-id'] = ctx.requestId;
  },
};
