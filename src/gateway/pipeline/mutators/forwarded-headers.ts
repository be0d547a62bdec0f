import { normalizeHeaderName } from '../../../http/header-name.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardContext, HeaderMutator } from './types.js';

function isForwardingHeader(normalized: string): boolean {
  return normalized.startsWith('x-forwarded-') || normalized === 'forwarded' || normalized === 'x-real-ip';
}

/** Whether a caller's header is a forwarding header the gateway does not believe from this peer. */
function spoofable(name: string, peerTrusted: boolean): boolean {
  return name.includes('_') ? isForwardingHeader(normalizeHeaderName(name)) : !peerTrusted && isForwardingHeader(name);
}

/** What the gateway observed, written over (or, from a trusted proxy, appended to) what is left. */
function setForwardingHeaders(headers: IncomingHttpHeaders, ctx: ForwardContext): void {
  const peer = ctx.peerAddress ?? '';
  if (ctx.peerTrusted) {
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
    headers['x-forwarded-proto'] ??= ctx.encrypted ? 'https' : 'http';
    if (headers['x-forwarded-host'] === undefined && headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
  } else {
    headers['x-forwarded-for'] = peer;
    headers['x-forwarded-proto'] = ctx.encrypted ? 'https' : 'http';
    if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
  }
  headers['x-request-id'] = ctx.requestId;
}

/**
 * `X-Forwarded-For/Proto/Host`: incoming values are kept only from a trusted proxy;
 * otherwise every forwarding header the client sent is dropped and replaced with what the
 * gateway observed (Traefik CVE-2026-35051 / CVE-2026-54764 were X-Forwarded-Prefix/Port).
 * Underscore spellings (`X_Forwarded_Host`, which many frameworks read as X-Forwarded-Host)
 * are never believed, not even from a trusted proxy.
 */
export const forwardedHeaders: HeaderMutator = {
  sets: [],
  extends: ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'],
  mutate(headers, ctx) {
    for (const name in headers) if (spoofable(name, ctx.peerTrusted)) delete headers[name];
    setForwardingHeaders(headers, ctx);
  },
  byName: {
    // For either peer: the name as spoofable() reads it.
    mayRemove: (name, normalized) => isForwardingHeader(name.includes('_') ? normalized : name),
    removes: (name, ctx) => spoofable(name, ctx.peerTrusted),
    afterRemoval: setForwardingHeaders,
  },
};
