/**
 * v0.6 browser logout: GET /self-service/browser/flows/logout rotates the CSRF secret, revokes
 * the session (the Bearer token's if one is sent, else the cookie's, whose cookie is then
 * expired) and redirects (302) to an allowed return_to or the logout return URL.
 */
import type { Router } from 'express';
import { parseCookies } from '../cookies.js';
import type { IdentityContext } from '../context.js';
import { notFound } from '../errors.js';
import { redirect, requestUrl } from '../http.js';
import { secureRedirectTarget } from '../return-to.js';
import { handled } from './common.js';

export function mountLogout(ctx: IdentityContext, router: Router): void {
  router.get(
    '/self-service/browser/flows/logout',
    handled(ctx, (req, res) => {
      const target = secureRedirectTarget(ctx, requestUrl(req), [ctx.cfg.flows.logout.after.defaultBrowserReturnUrl]);
      res.append('Set-Cookie', ctx.csrf.setCookieHeader(ctx.csrf.newSecret()));
      const bearer = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) {
        if (!ctx.sessions.revoke(bearer)) throw notFound();
      } else {
        const token = ctx.sessionCookie.decode(parseCookies(req.headers.cookie)[ctx.sessionCookie.name]);
        if (token) ctx.sessions.revoke(token);
        res.append('Set-Cookie', ctx.sessionCookie.clearHeader());
      }
      redirect(res, target);
    }),
  );
}
