/**
 * v0.6 browser logout (Kratos's selfservice/flow/logout/handler.go):
 * GET /self-service/browser/flows/logout rotates the CSRF secret, revokes the session (the
 * Bearer token's if one is sent, else the cookie's, whose cookie is then expired) and redirects
 * (302) to an allowed return_to or the logout return URL.
 */
import type { Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { notFound } from '../../../x/http-error.js';
import { parseCookies, requestUrl } from '../../../x/request-input.js';
import { redirect } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { handled } from '../error.js';

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
