/**
 * The registration flow (Kratos's selfservice/flow/registration/handler.go): init for API
 * clients and browsers, fetch, and the submit, which the password method answers.
 */
import type { Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { sessionOf } from '../../../session/manager.js';
import { texts } from '../../../text/ui-text.js';
import { badRequest } from '../../../x/http-error.js';
import { isJsonRequest } from '../../../x/negotiation.js';
import { bodyOf, requestUrl } from '../../../x/request-input.js';
import { redirect, sendError } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { populateRegistrationMethod, registerWithPassword } from '../../strategy/password/registration.js';
import { handled } from '../error.js';
import { FlowValidationError, flowJson, newFlow, saveFlow, uiRedirect, type Flow, type FlowDescriptor } from '../flows.js';
import { fetchFlowHandler, submitHandler } from '../handler.js';

const ALREADY_LOGGED_IN = 'A valid session was detected and thus registration is not possible.';

export function registrationDescriptor(ctx: IdentityContext): FlowDescriptor {
  return {
    kind: 'registration',
    uiUrl: () => ctx.cfg.flows.registration.uiUrl,
    lifespanMs: () => ctx.cfg.flows.registration.lifespanMs,
    expiredMessage: texts.registrationExpired,
    build: (flow: Flow) => populateRegistrationMethod(ctx, flow),
  };
}

function ensureEnabled(ctx: IdentityContext): void {
  if (!ctx.cfg.flows.registration.enabled) throw badRequest('Registration is not allowed because it was disabled.');
}

export function mountRegistration(ctx: IdentityContext, router: Router): void {
  const d = registrationDescriptor(ctx);
  const cfg = ctx.cfg;

  router.get('/self-service/registration/api', (req, res) => {
    if (!cfg.flows.registration.enabled) return sendError(res, badRequest('Registration is not allowed because it was disabled.'));
    if (sessionOf(ctx, req)) return sendError(res, badRequest(ALREADY_LOGGED_IN));
    const flow = newFlow(ctx, d, 'api', { req, res });
    saveFlow(ctx, flow);
    res.status(200).json(flowJson(ctx, flow));
  });

  router.get(
    '/self-service/registration/browser',
    handled(ctx, (req, res) => {
      ensureEnabled(ctx);
      if (sessionOf(ctx, req)) return redirect(res, secureRedirectTarget(ctx, requestUrl(req), [cfg.defaultBrowserReturnUrl]));
      const flow = newFlow(ctx, d, 'browser', { req, res });
      saveFlow(ctx, flow);
      redirect(res, uiRedirect(d, flow.id));
    }),
  );

  router.get('/self-service/registration/flows', fetchFlowHandler(ctx, d));

  router.post(
    '/self-service/registration',
    submitHandler(ctx, d, async (req, res, flow) => {
      ensureEnabled(ctx);
      if (sessionOf(ctx, req)) {
        if (flow.type === 'browser' && !isJsonRequest(req.headers)) return redirect(res, cfg.defaultBrowserReturnUrl);
        throw badRequest(ALREADY_LOGGED_IN);
      }
      const body = bodyOf(req);
      if (body.method !== 'password') throw new FlowValidationError([{ message: texts.noRegistrationStrategy() }]);
      await registerWithPassword(ctx, req, res, flow, body);
    }),
  );
}
