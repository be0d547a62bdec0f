/** The registration flow with the password method (strategy/password/registration.go). */
import type { Router } from 'express';
import type { IdentityContext } from '../context.js';
import { badRequest, HttpError } from '../errors.js';
import { bodyOf, redirect, requestUrl, sendError, sessionOf, stringField } from '../http.js';
import { labels, texts } from '../messages.js';
import { isJsonRequest } from '../negotiation.js';
import { passwordProblem } from '../password-policy.js';
import { buildSession } from '../persistence/sessions.js';
import { secureRedirectTarget } from '../return-to.js';
import { identityJson, sessionJson } from '../serialize.js';
import { passwordNode, setNodeValue, submitNode } from '../ui-nodes.js';
import {
  ensureCsrf,
  fetchFlowHandler,
  FlowValidationError,
  flowJson,
  handled,
  newFlow,
  saveFlow,
  submitHandler,
  uiRedirect,
  type Flow,
  type FlowDescriptor,
} from './common.js';
import { issueBrowserSession, issueSession } from './session-issue.js';
import { sendVerificationLinks } from './verification.js';

const ALREADY_LOGGED_IN = 'A valid session was detected and thus registration is not possible.';

export function registrationDescriptor(ctx: IdentityContext): FlowDescriptor {
  return {
    kind: 'registration',
    uiUrl: () => ctx.cfg.flows.registration.uiUrl,
    lifespanMs: () => ctx.cfg.flows.registration.lifespanMs,
    expiredMessage: texts.registrationExpired,
    build: (flow: Flow) => {
      // v0.6 order: the first schema trait, then password, then the other traits, then the button.
      const [first, ...rest] = ctx.schemas.nodes(ctx.cfg.defaultSchemaId, 'password');
      flow.ui.nodes.push(...(first ? [first] : []), passwordNode(), ...rest, submitNode('password', 'password', labels.signUp()));
    },
  };
}

function ensureEnabled(ctx: IdentityContext): void {
  if (!ctx.cfg.flows.registration.enabled) throw badRequest('Registration is not allowed because it was disabled.');
}

export function mountRegistration(ctx: IdentityContext, router: Router): void {
  const d = registrationDescriptor(ctx);
  const cfg = ctx.cfg;
  const schemaId = cfg.defaultSchemaId;

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
      ensureCsrf(ctx, req, flow, body);
      flow.active = 'password';

      const rawTraits = body.traits ?? {};
      const traits = (isJsonRequest(req.headers) ? rawTraits : ctx.schemas.coerceFormTraits(schemaId, rawTraits)) as Record<
        string,
        unknown
      >;
      const password = stringField(body, 'password') ?? '';
      for (const node of ctx.schemas.nodes(schemaId, 'password', traits))
        setNodeValue(flow.ui, node.attributes.name, node.attributes.value);
      setNodeValue(flow.ui, 'password', undefined);

      const issues = ctx.schemas.validate(schemaId, traits);
      if (password === '') issues.push({ field: 'password', message: texts.missingProperty('password') });
      if (issues.length > 0) throw new FlowValidationError(issues);

      const derived = ctx.schemas.derive(schemaId, traits);
      if (derived.identifiers.length === 0) throw new FlowValidationError([{ message: texts.noIdentifier() }]);
      const problem = await passwordProblem(derived.identifiers[0] ?? '', password, cfg.password);
      if (problem) throw new FlowValidationError([{ field: 'password', message: texts.passwordPolicy(problem) }]);

      let identity;
      try {
        identity = ctx.identities.create({ schemaId, traits, derived, passwordHash: await ctx.hasher.hash(password) }, ctx.clock.now());
      } catch (e) {
        if (e instanceof HttpError && e.code === 409) throw new FlowValidationError([{ message: texts.duplicateIdentifier() }]);
        throw e;
      }
      saveFlow(ctx, flow);
      if (cfg.flows.verification.enabled) identity = sendVerificationLinks(ctx, identity, flow.type, flow.request_url);
      ctx.logger.info({ identity_id: identity.id, flow_type: flow.type }, 'identity registered');

      const sessionHook = cfg.flows.registration.after.password.sessionHook;
      if (flow.type === 'api') {
        if (!sessionHook) {
          res.status(200).json({ identity: identityJson(ctx, identity) });
          return;
        }
        const { token, session } = issueSession(ctx, identity);
        res.status(200).json({ session_token: token, session: sessionJson(ctx, session), identity: identityJson(ctx, identity) });
        return;
      }
      const now = ctx.clock.now();
      // v0.6 answers JSON clients with a session object even when none was stored (no session hook).
      const session = sessionHook ? issueBrowserSession(ctx, req, res, identity) : buildSession(identity, now, cfg.session.lifespanMs, now);
      if (isJsonRequest(req.headers)) {
        res.status(200).json(sessionJson(ctx, session));
        return;
      }
      const after = cfg.flows.registration.after;
      redirect(res, secureRedirectTarget(ctx, flow.request_url, [after.password.defaultBrowserReturnUrl, after.defaultBrowserReturnUrl]));
    }),
  );
}
