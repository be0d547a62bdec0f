/**
 * Forward-auth decision API (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz):
 * "may this request pass, and as whom?". The same route table, credential extraction,
 * session cache, header mapping and path canonicalization as the proxy.
 *
 * The original request comes from, in order:
 *  - `X-Original-URI` / `X-Original-Method` (nginx auth_request); 400 when `X-Forwarded-Uri`
 *    or `-Method` come with it (one of the two is the client's, passed on by the proxy);
 *  - `X-Forwarded-Method/Proto/Host/Uri` (Traefik) — only from `proxy.trusted_proxies`,
 *    otherwise 400 (Oathkeeper's decision API trusts them from anyone; oauth2-proxy
 *    CVE-2026-40575 is that bug);
 *  - the decision request itself, path below the prefix (Envoy ext_authz path_prefix).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessLog } from '../gateway/access-log.js';
import { decide } from '../gateway/decision/decide.js';
import { sendJsonError } from '../gateway/errors/json-error.js';
import { sendLoginRedirect, sendUnauthorized } from '../gateway/errors/unauthenticated.js';
import { sendUnavailable } from '../gateway/errors/unavailable.js';
import type { GatewayCore } from '../gateway/gateway-core.js';
import { stripIdentityHeaders } from '../gateway/headers/identity-headers.js';
import { identityHeaders } from '../gateway/mutators/identity-headers.js';
import { loginLocation, peerAddress, requestIdOf } from '../gateway/request-context.js';
import { parseRequestTarget, TargetRejected, type RequestTarget } from '../gateway/request-target.js';

interface OriginalRequest {
  method: string;
  host: string | undefined;
  rawTarget: string;
  /** Traefik returns the auth response verbatim, so it can carry a login redirect; nginx cannot (it gets the 401 with a Location). */
  mayRedirect: boolean;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function originalRequest(g: GatewayCore, req: IncomingMessage, prefix: string): OriginalRequest | string {
  const h = req.headers;
  const originalUri = single(h['x-original-uri']);
  const traefikNamed = h['x-forwarded-uri'] !== undefined || h['x-forwarded-method'] !== undefined;
  if (originalUri !== undefined) {
    // nginx names the request with X-Original-URI and passes the client's own headers on to
    // the decision (a client's X-Forwarded-Uri included); Traefik sets X-Forwarded-Uri/-Method
    // and passes a client's X-Original-URI on. With both, either may be the client's: judging
    // by one could judge a path other than the one proxied, so neither is used.
    if (traefikNamed) return 'X-Original-URI and X-Forwarded-Uri/-Method both name the request; the proxy must send only one';
    // X-Forwarded-Host/-Proto beside it come from whatever is in front of nginx (or the
    // client): the route host is nginx's Host, as without them.
    return { method: (single(h['x-original-method']) ?? 'GET').toUpperCase(), host: h.host, rawTarget: originalUri, mayRedirect: false };
  }
  const forwarded = traefikNamed || h['x-forwarded-host'] !== undefined || h['x-forwarded-proto'] !== undefined;
  if (forwarded) {
    if (!g.trustedProxies.trusts(req.socket.remoteAddress)) {
      return 'X-Forwarded-* headers are accepted only from proxy.trusted_proxies';
    }
    return {
      method: (single(h['x-forwarded-method']) ?? req.method ?? 'GET').toUpperCase(),
      host: single(h['x-forwarded-host']) ?? h.host,
      rawTarget: single(h['x-forwarded-uri']) ?? '/',
      mayRedirect: true,
    };
  }
  const url = req.url ?? '/';
  const rest = url.slice(prefix.length);
  return { method: req.method ?? 'GET', host: h.host, rawTarget: rest === '' || rest.startsWith('?') ? '/' + rest : rest, mayRedirect: false };
}

export function createDecisionHandler(g: GatewayCore) {
  const prefix = g.config.admin.decisions_prefix;
  const accessLog = new AccessLog(g.logger, g.config.log.access_log);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    // Read now: the socket is detached from the request once the response has finished.
    const peer = peerAddress(req);
    let path: string | undefined;
    const trace = g.tracing?.startRequest(req, 'decision');
    const finish = (route: string, status: number, identity?: string) => {
      const seconds = (performance.now() - started) / 1000;
      const method = req.method ?? 'GET';
      g.metrics.request(`decision:${route}`, method, status, seconds);
      const traceId = g.tracing?.finishRequest(req, route, status);
      if (!accessLog.enabled) return;
      const xff = req.headers['x-forwarded-for'];
      const client = g.trustedProxies.clientAddress(peer, typeof xff === 'string' ? xff : undefined);
      accessLog.write(requestId, client, route, method, path, status, Math.round(seconds * 1e4) / 10, identity, traceId === undefined ? ',"decision":true' : `,"decision":true,"trace_id":"${traceId}"`);
    };

    const original = originalRequest(g, req, prefix);
    if (typeof original === 'string') {
      sendJsonError(res, 400, original);
      return finish('none', 400);
    }
    let target: RequestTarget;
    try {
      target = parseRequestTarget(original.rawTarget);
    } catch (err) {
      if (!(err instanceof TargetRejected)) throw err;
      sendJsonError(res, 400, err.message);
      return finish('none', 400);
    }
    path = target.path;
    trace?.setPath(target.path);
    stripIdentityHeaders(req.headers, g.protectedHeaderNames);
    const route = g.routes.match(original.host, target.path, original.method);
    if (route === undefined) {
      sendJsonError(res, 403, 'No route matches this request');
      return finish('none', 403);
    }
    const decision = await decide(route, original.method, req.headers, g.extractors, g.resolver, trace);
    if (decision.kind === 'unavailable') return finish(route.name, sendUnavailable(res, decision.resolution));
    if (decision.kind === 'unauthenticated') {
      if (decision.respondWith === 'redirect') {
        const location = loginLocation(g, req, target);
        if (original.mayRedirect) {
          sendLoginRedirect(res, location);
          return finish(route.name, 302);
        }
        // nginx auth_request fails on anything but 2xx/401/403, so the login URL rides on
        // the 401 (auth_request_set … $upstream_http_location) and nginx redirects. The
        // gateway builds it because it validates return_to and nginx cannot URL-encode it.
        res.setHeader('location', location);
      }
      sendUnauthorized(res);
      return finish(route.name, 401);
    }
    const out: Record<string, string | string[]> = {};
    identityHeaders.mutate(out, {
      route,
      session: decision.session,
      credentialKind: decision.credentialKind,
      requestId,
      peerAddress: req.socket.remoteAddress,
      peerTrusted: false,
      encrypted: false,
    });
    if (decision.setCookie) out['set-cookie'] = decision.setCookie;
    out['content-length'] = '0';
    out['cache-control'] = 'no-store';
    res.writeHead(200, out);
    res.end();
    finish(route.name, 200, decision.session?.identityId);
  }

  return {
    prefix,
    owns: (path: string) => path === prefix || path.startsWith(prefix + '/') || path.startsWith(prefix + '?'),
    handle(req: IncomingMessage, res: ServerResponse): void {
      handle(req, res).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the decision API');
        sendJsonError(res, 500, 'An internal error occurred');
      });
    },
  };
}
