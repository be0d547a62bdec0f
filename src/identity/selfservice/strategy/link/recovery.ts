/**
 * Account recovery with the link method (Kratos's selfservice/strategy/link/strategy_recovery.go). Clicking a valid link logs the user in and opens a
 * settings flow so they can set a new password within privileged_session_max_age.
 */
import type { Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import { issueBrowserSession, sessionOf } from '../../../session/manager.js';
import { texts } from '../../../text/ui-text.js';
import { addContainerMessage } from '../../../ui/form-nodes.js';
import { badRequest, notFound } from '../../../x/http-error.js';
import { redirect, sendError } from '../../../x/response.js';
import { publicUrl, withQuery } from '../../../x/urls.js';
import { forwardError } from '../../flow/error.js';
import { newFlow, saveFlow } from '../../flow/flows.js';
import { newSettingsFlow } from '../../flow/settings/settings-flow.js';
import { issueLinkToken, linkDescriptor, mountLinkFlow, type LinkFlowSpec } from './strategy.js';

const SESSION_PRESENT = 'A valid session was detected and thus recovery is not possible.';

export function recoveryLink(ctx: IdentityContext, flowId: string, token: string): string {
  return withQuery(publicUrl(ctx, '/self-service/recovery'), { token, flow: flowId });
}

function spec(ctx: IdentityContext): LinkFlowSpec {
  return {
    kind: 'recovery',
    title: 'Recovery',
    expiredMessage: texts.recoveryExpired,
    emailSent: texts.recoveryEmailSent,
    retrySuccess: texts.recoveryRetrySuccess,
    noStrategy: texts.noRecoveryStrategy,
    guard: (req, res, type) => {
      if (!sessionOf(ctx, req)) return false;
      if (type === 'api') sendError(res, badRequest(SESSION_PRESENT));
      else redirect(res, ctx.cfg.defaultBrowserReturnUrl);
      return true;
    },
    sendEmail: (flow, email) => {
      const address = ctx.identities.findRecoveryAddress(email);
      if (!address) return ctx.courier.send('recovery_invalid', email);
      ctx.courier.send('recovery_valid', email, recoveryLink(ctx, flow.id, issueLinkToken(ctx, 'recovery', flow, address)));
    },
    tokenInvalid: texts.recoveryTokenInvalid,
    passChallenge: (req, res, token, flow) => {
      const identity = token.identity_id ? ctx.identities.get(token.identity_id) : undefined;
      if (!identity) return forwardError(ctx, req, res, notFound());
      // As v0.6.3 recoveryIssueSession: the "email sent" message is cleared; the success text
      // goes on the settings flow the user is sent to.
      delete flow.ui.messages;
      flow.state = 'passed_challenge';
      saveFlow(ctx, flow);
      issueBrowserSession(ctx, req, res, identity);
      const settings = newSettingsFlow(ctx, 'browser', { req, res }, identity.id);
      const maxAge = ctx.cfg.flows.settings.privilegedSessionMaxAgeMs;
      addContainerMessage(
        settings.ui,
        texts.recoverySuccessful(maxAge / 60_000, new Date(ctx.clock.now().getTime() + maxAge).toISOString()),
      );
      saveFlow(ctx, settings);
      ctx.logger.info({ identity_id: identity.id }, 'account recovered');
      redirect(res, withQuery(ctx.cfg.flows.settings.uiUrl, { flow: settings.id }));
    },
  };
}

export function mountRecovery(ctx: IdentityContext, router: Router): void {
  mountLinkFlow(ctx, router, spec(ctx));
}

/** Admin POST /recovery/link: a browser recovery flow and a link that logs the identity in. */
export function createAdminRecoveryLink(
  ctx: IdentityContext,
  identityId: string,
  expiresInMs: number | undefined,
): { recovery_link: string; expires_at: string } {
  if (!ctx.identities.get(identityId)) throw notFound();
  const d = linkDescriptor(ctx, spec(ctx));
  const flow = newFlow(ctx, d, 'browser', { requestUrl: publicUrl(ctx, '/self-service/recovery/browser') });
  if (expiresInMs !== undefined) flow.expires_at = new Date(ctx.clock.now().getTime() + expiresInMs).toISOString();
  saveFlow(ctx, flow);
  const token = ctx.tokens.create(
    { kind: 'recovery', flow_id: flow.id, identity_id: identityId, address_id: null, expires_at: flow.expires_at },
    ctx.clock.now(),
  );
  return { recovery_link: recoveryLink(ctx, flow.id, token), expires_at: flow.expires_at };
}
