/**
 * The password method of the login flow (Kratos's selfservice/strategy/password/login.go):
 * its form nodes, and a submit checked against the backoff before the password is hashed.
 */
import type { Request, Response } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { issueBrowserSession, issueSession } from '../../../session/manager.js';
import { sessionJson } from '../../../session/session.js';
import { labels, texts } from '../../../text/ui-text.js';
import { input, passwordNode, setNodeValue, submitNode } from '../../../ui/form-nodes.js';
import { isJsonRequest } from '../../../x/negotiation.js';
import { stringField } from '../../../x/request-input.js';
import { redirect } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import type { Throttle } from '../../../x/throttle.js';
import { refuseThrottled } from '../../flow/error.js';
import { FlowValidationError, saveFlow, type Flow } from '../../flow/flows.js';
import { ensureCsrf } from '../../flow/handler.js';

export function populateLoginMethod(flow: Flow): void {
  flow.ui.nodes.push(
    input('password', 'password_identifier', 'text', { required: true, label: labels.id() }),
    passwordNode(),
    submitNode('password', 'password', labels.signIn()),
  );
}

/** A submit with `method: password`; `throttle` is the server's one login backoff. */
export async function loginWithPassword(
  ctx: IdentityContext,
  throttle: Throttle,
  req: Request,
  res: Response,
  flow: Flow,
  body: Record<string, unknown>,
): Promise<void> {
  const cfg = ctx.cfg;
  const now = () => ctx.clock.now().getTime();
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
}
