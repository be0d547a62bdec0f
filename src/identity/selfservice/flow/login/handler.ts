/**
 * The login flow (Kratos's selfservice/flow/login/handler.go): init for API clients and
 * browsers, fetch, and the submit, which the password method answers.
 */
import type { Request, Response, Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { sessionOf } from '../../../session/manager.js';
import { texts } from '../../../text/ui-text.js';
import { setNodeValue } from '../../../ui/form-nodes.js';
import { badRequest } from '../../../x/http-error.js';
import { isJsonRequest } from '../../../x/negotiation.js';
import { bodyOf, queryParam, requestUrl } from '../../../x/request-input.js';
import { redirect, sendError } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { Throttle } from '../../../x/throttle.js';
import { loginWithPassword, populateLoginMethod } from '../../strategy/password/login.js';
import { handled } from '../error.js';
import { FlowValidationError, flowJson, newFlow, saveFlow, uiRedirect, type Flow, type FlowDescriptor } from '../flows.js';
import { fetchFlowHandler, submitHandler } from '../handler.js';

const ALREADY_LOGGED_IN = 'A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?';

export function loginDescriptor(ctx: IdentityContext): FlowDescriptor {
  return {
    kind: 'login',
    uiUrl: () => ctx.cfg.flows.login.uiUrl,
    lifespanMs: () => ctx.cfg.flows.login.lifespanMs,
    expiredMessage: texts.loginExpired,
    build: (flow: Flow) => {
      flow.forced = false;
      populateLoginMethod(flow);
    },
  };
}

/** A new login flow; forced (re-authentication) flows prefill the current identity's identifier. */
function initLogin(ctx: IdentityContext, d: FlowDescriptor, type: Flow['type'], req: Request, res: Response): Flow {
  const refresh = queryParam(req, 'refresh') === 'true';
  const flow = newFlow(ctx, d, type, { req, res });
  flow.forced = refresh;
  const current = sessionOf(ctx, req);
  if (refresh && current) {
    const identity = current.session.identity;
    setNodeValue(flow.ui, 'password_identifier', ctx.schemas.derive(identity.schema_id, identity.traits).identifiers[0]);
  }
  saveFlow(ctx, flow);
  return flow;
}

export function mountLogin(ctx: IdentityContext, router: Router): void {
  const d = loginDescriptor(ctx);
  const cfg = ctx.cfg;
  // One per server: the login router is built once per identity server.
  const throttle = new Throttle(cfg.loginThrottling);

  router.get('/self-service/login/api', (req, res) => {
    if (sessionOf(ctx, req) && queryParam(req, 'refresh') !== 'true') return sendError(res, badRequest(ALREADY_LOGGED_IN));
    res.status(200).json(flowJson(ctx, initLogin(ctx, d, 'api', req, res)));
  });

  router.get(
    '/self-service/login/browser',
    handled(ctx, (req, res) => {
      if (sessionOf(ctx, req) && queryParam(req, 'refresh') !== 'true') {
        return redirect(res, secureRedirectTarget(ctx, requestUrl(req), [cfg.defaultBrowserReturnUrl]));
      }
      redirect(res, uiRedirect(d, initLogin(ctx, d, 'browser', req, res).id));
    }),
  );

  router.get('/self-service/login/flows', fetchFlowHandler(ctx, d));

  router.post(
    '/self-service/login',
    submitHandler(ctx, d, async (req, res, flow) => {
      if (sessionOf(ctx, req) && !flow.forced) {
        if (flow.type === 'browser' && !isJsonRequest(req.headers)) return redirect(res, cfg.defaultBrowserReturnUrl);
        throw badRequest(ALREADY_LOGGED_IN);
      }
      const body = bodyOf(req);
      if (body.method !== 'password') throw new FlowValidationError([{ message: texts.noLoginStrategy() }]);
      await loginWithPassword(ctx, throttle, req, res, flow, body);
    }),
  );
}
