/**
 * The password method of the registration flow (Kratos's
 * selfservice/strategy/password/registration.go): its form nodes, and a submit that validates
 * the traits and the password, creates the identity and runs the after-registration hooks.
 */
import type { Request, Response } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { identityJson } from '../../../identity/identity.js';
import { issueBrowserSession, issueSession } from '../../../session/manager.js';
import { buildSession, sessionJson } from '../../../session/session.js';
import { labels, texts } from '../../../text/ui-text.js';
import { passwordNode, setNodeValue, submitNode } from '../../../ui/form-nodes.js';
import { HttpError } from '../../../x/http-error.js';
import { isJsonRequest } from '../../../x/negotiation.js';
import { stringField } from '../../../x/request-input.js';
import { redirect } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { FlowValidationError, saveFlow, type Flow } from '../../flow/flows.js';
import { ensureCsrf } from '../../flow/handler.js';
import { sendVerificationLinks } from '../link/verification.js';
import { passwordProblem } from './validator.js';

export function populateRegistrationMethod(ctx: IdentityContext, flow: Flow): void {
  // v0.6 order: the first schema trait, then password, then the other traits, then the button.
  const [first, ...rest] = ctx.schemas.nodes(ctx.cfg.defaultSchemaId, 'password');
  flow.ui.nodes.push(...(first ? [first] : []), passwordNode(), ...rest, submitNode('password', 'password', labels.signUp()));
}

/** A submit with `method: password`. */
export async function registerWithPassword(
  ctx: IdentityContext,
  req: Request,
  res: Response,
  flow: Flow,
  body: Record<string, unknown>,
): Promise<void> {
  const cfg = ctx.cfg;
  const schemaId = cfg.defaultSchemaId;
  ensureCsrf(ctx, req, flow, body);
  flow.active = 'password';

  const rawTraits = body.traits ?? {};
  const traits = (isJsonRequest(req.headers) ? rawTraits : ctx.schemas.coerceFormTraits(schemaId, rawTraits)) as Record<string, unknown>;
  const password = stringField(body, 'password') ?? '';
  for (const node of ctx.schemas.nodes(schemaId, 'password', traits)) setNodeValue(flow.ui, node.attributes.name, node.attributes.value);
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
}
