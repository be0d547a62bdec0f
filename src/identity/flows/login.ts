/** The login flow with the password method (selfservice/flow/login, strategy/password/login.go). */
import type { Request, Response, Router } from 'express';
import type { IdentityContext } from '../context.js';
import { badRequest } from '../errors.js';
import { bodyOf, queryParam, redirect, requestUrl, sendError, sessionOf, stringField } from '../http.js';
import { labels, texts } from '../messages.js';
import { isJsonRequest } from '../negotiation.js';
import { secureRedirectTarget } from '../return-to.js';
import { sessionJson } from '../serialize.js';
import { Throttle } from '../throttle.js';
import { input, passwordNode, setNodeValue, submitNode } from '../ui-nodes.js';
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
  refuseThrottled,
} from './common.js';
import { issueBrowserSession, issueSession } from './session-issue.js';

const ALREADY_LOGGED_IN = 'A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?';

export function loginDescriptor(ctx: IdentityContext): FlowDescriptor {
  return {
    kind: 'login',
    uiUrl: () => ctx.cfg.flows.login.uiUrl,
    lifespanMs: () => ctx.cfg.flows.login.lifespanMs,
    expiredMessage: texts.loginExpired,
    build: (flow: Flow) => {
      flow.forced = false;
      flow.ui.nodes.push(
        input('password', 'password_identifier', 'text', { required: true, label: labels.id() }),
        passwordNode(),
        submitNode('password', 'password', labels.signIn()),
      );
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
  const now = () => ctx.clock.now().getTime();

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
      ensureCsrf(ctx, req, flow, body);
      flow.active = 'password';

      // `identifier` is the v0.7+ name; accepting it too costs nothing and eases client upgrades.
      const identifier = stringField(body, 'password_identifier') ?? stringField(body, 'identifier') ?? '';
      const password = stringField(body, 'password') ?? '';
      setNodeValue(flow.ui, 'password_identifier', identifier);
      setNodeValue(flow.ui, 'password', undefined);
      const missing = [
        ...(identifier === '' ? [{ field: 'password_identifier', message: texts.missingProperty('password_identifier') }] : []),
        ...(password === '' ? [{ field: 'password', message: texts.missingProperty('password') }] : []),
      ];
      if (missing.length > 0) throw new FlowValidationError(missing);

      // Checked before the password is hashed, so refused attempts cost no CPU. Unknown
      // identifiers are counted like known ones: a 429 says nothing about whether an account exists.
      const keys = throttle.keys(identifier, throttle.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']));
      const verdict = throttle.begin(keys, now());
      if (!verdict.allowed) {
        const wait = verdict.retryAfterSeconds;
        ctx.logger.warn({ client: keys.client, by: verdict.by, retry_after_s: wait, flow_type: flow.type }, 'login throttled');
        return refuseThrottled(
          ctx,
          req,
          res,
          flow,
          wait,
          texts.loginThrottled(wait),
          `Too many failed login attempts. Try again in ${wait} seconds.`,
          'Too many failed login attempts, please try again later',
        );
      }

      let identity: ReturnType<typeof ctx.identities.get>;
      try {
        const cred = ctx.identities.findPasswordCredential(identifier.trim().toLowerCase());
        const ok = cred ? await ctx.hasher.verify(password, cred.hashedPassword) : await ctx.hasher.verifyAgainstNothing(password);
        identity = ok && cred ? ctx.identities.get(cred.identityId) : undefined;
      } catch (err) {
        throttle.abandoned(keys, now());
        throw err;
      }
      if (!identity) {
        throttle.failed(keys, now());
        throw new FlowValidationError([{ message: texts.invalidCredentials() }]);
      }
      throttle.succeeded(keys, now());

      saveFlow(ctx, flow);
      if (flow.type === 'api') {
        const { token, session } = issueSession(ctx, identity);
        res.status(200).json({ session_token: token, session: sessionJson(ctx, session) });
        return;
      }
      const session = issueBrowserSession(ctx, req, res, identity);
      if (isJsonRequest(req.headers)) {
        res.status(200).json(sessionJson(ctx, session));
        return;
      }
      const after = cfg.flows.login.after;
      redirect(res, secureRedirectTarget(ctx, flow.request_url, [after.password.defaultBrowserReturnUrl, after.defaultBrowserReturnUrl]));
    }),
  );
}
