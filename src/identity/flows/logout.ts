/**
 * v0.6 browser logout: GET /self-service/browser/flows/logout revokes the cookie's session,
 * clears the cookie, rotates the CSRF secret and redirects (302) to the logout return URL.
 */
import type { Router } from 'express';
import { parseCookies } from '../cookies.js';
import type { IdentityContext } from '../context.js';
import { redirect, requestUrl } from '../http.js';
import { secureRedirectTarget } from '../return-to.js';
import { handled } from './common.js';

export function mountLogout(ctx: IdentityContext, router: Router): void {
  router.get(
    '/self-service/browser/flows/logout',
    handled(ctx, (req, res) => {
      const token = ctx.sessionCookie.decode(parseCookies(req.headers.cookie)[ctx.sessionCookie.name]);
      if (token) ctx.sessions.revoke(token);
      res.append('Set-Cookie', ctx.sessionCookie.clearHeader());
      res.append('Set-Cookie', ctx.csrf.setCookieHeader(ctx.csrf.newSecret()));
      redirect(res, secureRedirectTarget(ctx, requestUrl(req), [ctx.cfg.flows.logout.after.defaultBrowserReturnUrl]));
    }),
  );
}
