/**
 * The self-service UI as an express Router: one server-rendered page per Kratos flow,
 * the error page, a logout helper and the stylesheet. Pages hold flow ids and CSRF
 * tokens, so nothing is cached and every page carries a strict Content-Security-Policy.
 */
import express, { type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import { flowKinds, type FlowKind } from './flow.js';
import { fetchError, fetchFlow, fetchLogoutUrl } from './kratos-client.js';
import { safeUrl } from './nodes.js';
import { errorPage, flowPage, initUrl, notFoundPage, unavailablePage, type PageEnv } from './pages.js';
import { STYLE_CSS } from './style.js';

export interface SelfServiceUiOptions {
  /** Where the router is mounted, e.g. `/ui`; used for the links and the stylesheet URL. */
  prefix: string;
  /** Internal URL the server fetches flows from, e.g. `http://127.0.0.1:4433`. */
  kratosPublicUrl: string;
  /** Kratos's public API as browsers reach it, e.g. `http://127.0.0.1:4455/.ory/kratos/public`. */
  browserKratosUrl: string;
  logger: Logger;
}

/*
 * No inline script or style anywhere; the only stylesheet is ours. `form-action` is left
 * unrestricted on purpose: Chromium applies it to the redirects after a submit, and Kratos
 * legitimately redirects to any allowed `return_to` host.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function setPageHeaders(res: Response): void {
  res.set({
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // Page URLs carry flow ids; don't leak them to other sites.
    'Referrer-Policy': 'same-origin',
  });
}

/** One query value, read from the raw URL so repeated or nested keys cannot surprise us. */
function queryValue(req: Request, key: string): string | undefined {
  const value = new URL(req.originalUrl, 'http://ui.invalid').searchParams.get(key);
  return value === null || value === '' ? undefined : value;
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

export function createSelfServiceUi(opts: SelfServiceUiOptions): express.Router {
  const env: PageEnv = { prefix: trimSlash(opts.prefix), browserKratosUrl: trimSlash(opts.browserKratosUrl) };
  const kratos = trimSlash(opts.kratosPublicUrl);
  const log = opts.logger.child({ component: 'self-service-ui' });
  const router = express.Router();

  router.get('/style.css', (_req, res) => {
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' });
    res.send(STYLE_CSS);
  });

  const sendPage = (res: Response, status: number, page: string) => {
    setPageHeaders(res);
    res.status(status).type('html').send(page);
  };

  const restart = (req: Request, res: Response, kind: FlowKind, returnTo = queryValue(req, 'return_to')) => {
    setPageHeaders(res);
    res.redirect(302, initUrl(env, kind, returnTo));
  };

  // `/ui` on its own is where people guess the pages are: send them to sign in.
  router.get('/', (req, res) => restart(req, res, 'login'));

  for (const kind of flowKinds) {
    router.get(`/${kind}`, async (req, res) => {
      const id = queryValue(req, 'flow');
      if (!id) return restart(req, res, kind);
      const lookup = await fetchFlow(kratos, kind, id, req.headers.cookie);
      if (lookup.kind === 'restart') {
        // Normal for old bookmarks and expired flows; a stream of these for fresh flows means the
        // UI reads from a different Kratos than the browser talks to (a redirect loop).
        log.debug({ flow: kind, status: lookup.status }, 'flow not usable, starting a new one');
        return restart(req, res, kind, lookup.returnTo ?? queryValue(req, 'return_to'));
      }
      if (lookup.kind === 'unavailable') {
        log.warn({ flow: kind, detail: lookup.detail }, 'could not fetch self-service flow');
        return sendPage(res, 502, unavailablePage(env));
      }
      sendPage(res, 200, flowPage(env, kind, lookup.flow));
    });
  }

  router.get('/error', async (req, res) => {
    // Kratos v0.6 sends the browser here with `?error=<id>`, v1 with `?id=<id>`.
    const id = queryValue(req, 'error') ?? queryValue(req, 'id');
    if (!id) return sendPage(res, 404, errorPage(env, []));
    const lookup = await fetchError(kratos, id, req.headers.cookie);
    if (lookup.kind === 'unavailable') {
      log.warn({ detail: lookup.detail }, 'could not fetch self-service error');
      return sendPage(res, 502, unavailablePage(env));
    }
    sendPage(res, 200, errorPage(env, lookup.errors));
  });

  // Logout link target for any Kratos version: v1's two-step logout, else v0.6's endpoint.
  router.get('/logout', async (req, res) => {
    const lookup = await fetchLogoutUrl(kratos, req.headers.cookie);
    setPageHeaders(res);
    const v0 = `${env.browserKratosUrl}/self-service/browser/flows/logout`;
    if (lookup.kind === 'v1') return res.redirect(302, safeUrl(lookup.logoutUrl) ?? v0);
    // Already signed out on v1: its logout needs a session, and v0.6's route is a 404 there.
    if (lookup.kind === 'signed-out') return res.redirect(302, initUrl(env, 'login'));
    res.redirect(302, v0);
  });

  // A person who mistypes a /ui address gets a page with a way on; anything else falls through
  // to the control plane's JSON 404, which API clients and scripts expect.
  router.use((req, res, next) => {
    if (/\btext\/html\b/i.test(req.headers.accept ?? '')) return sendPage(res, 404, notFoundPage(env));
    next();
  });

  return router;
}
