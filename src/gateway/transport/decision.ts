/**
 * Forward-auth decision API (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz):
 * "may this request pass, and as whom?". The same evaluation as the proxy
 * (pipeline/evaluate.ts) on the original request; this writer answers 200 with the identity
 * headers, or the refusal.
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
import { sendJsonError } from '../../http/json-error.js';
import { sendLoginRedirect } from '../errors/unauthenticated.js';
import type { GatewayCore } from '../gateway-core.js';
import { evaluate } from '../pipeline/evaluate.js';
import { arrive, createObserver, observeFailure } from '../pipeline/observe.js';
import { WWW_AUTHENTICATE } from '../pipeline/refuse.js';
import type { ConfigSnapshot } from '../pipeline/snapshot.js';
import { peerAddress, requestIdOf } from '../../http/request.js';

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

function originalRequest(s: ConfigSnapshot, req: IncomingMessage, prefix: string): OriginalRequest | string {
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
    if (!s.trustedProxies.trusts(req.socket.remoteAddress)) {
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
  return {
    method: req.method ?? 'GET',
    host: h.host,
    rawTarget: rest === '' || rest.startsWith('?') ? '/' + rest : rest,
    mayRedirect: false,
  };
}

export function createDecisionHandler(g: GatewayCore) {
  const prefix = g.config.admin.decisions_prefix;
  const observe = createObserver(g, true);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    // The peer is read now: the socket is detached from the request once the response has finished.
    const a = arrive(req, {
      started: performance.now(),
      requestId,
      peer: peerAddress(req),
      snapshot: g.snapshot,
      path: undefined,
      observed: false,
    });
    const trace = g.tracing?.startRequest(req, 'decision');

    const original = originalRequest(a.snapshot, req, prefix);
    if (typeof original === 'string') {
      sendJsonError(res, 400, original);
      return observe(req, a, 'none', 400);
    }
    const evaluated = evaluate(
      g,
      a,
      { transport: 'decision', method: original.method, host: original.host, rawTarget: original.rawTarget, headers: req.headers },
      trace,
    );
    // Awaited only when authentication had to ask: a refusal before it is written in this tick.
    const outcome = evaluated instanceof Promise ? await evaluated : evaluated;
    if (outcome.kind === 'refuse') {
      // A login or step-up redirect (the location carries `aal=aal2` / `refresh=true` for a step-up).
      if (outcome.location !== undefined) {
        if (original.mayRedirect) {
          sendLoginRedirect(res, outcome.location);
          return observe(req, a, outcome.route, 302);
        }
        // nginx auth_request fails on anything but 2xx/401/403, so the login URL rides on
        // the 401 (auth_request_set … $upstream_http_location) and nginx redirects. The
        // gateway builds it because it validates return_to and nginx cannot URL-encode it.
        res.setHeader('location', outcome.location);
        sendJsonError(res, 401, outcome.message, { 'www-authenticate': WWW_AUTHENTICATE });
        return observe(req, a, outcome.route, 401);
      }
      // A forbidden browser navigation gets JSON here too: the proxy in front renders its own 403 page.
      sendJsonError(res, outcome.status, outcome.message, outcome.headers as Record<string, string> | undefined, outcome.error);
      return observe(req, a, outcome.route, outcome.status);
    }
    if (outcome.kind === 'control') throw new Error('unreachable: the decision API has no control plane');
    const out = outcome.headers as Record<string, string | string[]>;
    if (outcome.setCookie) out['set-cookie'] = outcome.setCookie;
    out['content-length'] = '0';
    out['cache-control'] = 'no-store';
    res.writeHead(200, out);
    res.end();
    observe(req, a, outcome.route.name, 200, outcome.session?.identityId);
  }

  return {
    prefix,
    owns: (path: string) => path === prefix || path.startsWith(prefix + '/') || path.startsWith(prefix + '?'),
    handle(req: IncomingMessage, res: ServerResponse): void {
      handle(req, res).catch((err: unknown) => {
        g.logger.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error in the decision API');
        sendJsonError(res, 500, 'An internal error occurred');
        observeFailure(observe, req);
      });
    },
  };
}
