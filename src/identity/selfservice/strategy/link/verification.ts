/**
 * Email verification with the link method (Kratos's
 * selfservice/strategy/link/strategy_verification.go), and the verification hook that runs
 * after registration and settings (selfservice/hook/verification.go).
 */
import type { Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import type { IdentityRecord } from '../../../identity/identity.js';
import { texts } from '../../../text/ui-text.js';
import { setNodeValue } from '../../../ui/form-nodes.js';
import { redirect } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { publicUrl, withQuery } from '../../../x/urls.js';
import { newFlow, saveFlow, uiRedirect, type FlowDescriptor, type FlowType } from '../../flow/flows.js';
import { issueLinkToken, linkDescriptor, mountLinkFlow, type LinkFlowSpec } from './strategy.js';

function verificationLink(ctx: IdentityContext, flowId: string, token: string): string {
  return withQuery(publicUrl(ctx, '/self-service/verification'), { flow: flowId, token });
}

function spec(ctx: IdentityContext, d: () => FlowDescriptor): LinkFlowSpec {
  return {
    kind: 'verification',
    title: 'Verification',
    expiredMessage: texts.verificationExpired,
    emailSent: texts.verificationEmailSent,
    retrySuccess: texts.verificationRetrySuccess,
    noStrategy: texts.noVerificationStrategy,
    guard: () => false,
    sendEmail: (flow, email) => {
      const address = ctx.identities.findVerifiableAddress(email);
      if (!address) return ctx.courier.send('verification_invalid', email);
      ctx.courier.send('verification_valid', email, verificationLink(ctx, flow.id, issueLinkToken(ctx, 'verification', flow, address)));
      ctx.identities.markAddressSent(address.id, ctx.clock.now());
    },
    tokenInvalid: texts.verificationTokenInvalid,
    passChallenge: (_req, res, token, flow) => {
      if (token.address_id) ctx.identities.markAddressVerified(token.address_id, ctx.clock.now());
      // v0.6.3 clears the container messages ("An email … has been sent" no longer holds) and
      // sets no success text; the "successfully verified" message (1080002) only came with v0.7.
      delete flow.ui.messages;
      flow.state = 'passed_challenge';
      saveFlow(ctx, flow);
      ctx.logger.info({ identity_id: token.identity_id }, 'address verified');
      redirect(
        res,
        secureRedirectTarget(ctx, flow.request_url, [ctx.cfg.flows.verification.after.defaultBrowserReturnUrl, uiRedirect(d(), flow.id)]),
      );
    },
  };
}

export function mountVerification(ctx: IdentityContext, router: Router): void {
  // The descriptor's own callbacks need the descriptor: the closure reads it after mounting.
  const d: FlowDescriptor = mountLinkFlow(
    ctx,
    router,
    spec(ctx, () => d),
  );
}

/**
 * The verification hook Kratos prepends after registration and settings when verification is
 * enabled: one flow and one email per pending address. Returns the identity with updated statuses.
 */
export function sendVerificationLinks(
  ctx: IdentityContext,
  identity: IdentityRecord,
  type: FlowType,
  originalRequestUrl: string,
): IdentityRecord {
  const pending = identity.verifiable_addresses.filter((a) => a.status === 'pending');
  if (pending.length === 0) return identity;
  const d = linkDescriptor(
    ctx,
    spec(ctx, () => d),
  );
  const afterVerification = (() => {
    try {
      return new URL(originalRequestUrl).searchParams.get('after_verification_return_to') ?? undefined;
    } catch {
      return undefined;
    }
  })();
  const requestUrl = withQuery(
    publicUrl(ctx, `/self-service/verification/${type}`),
    afterVerification ? { return_to: afterVerification } : {},
  );
  for (const address of pending) {
    const flow = newFlow(ctx, d, type, { requestUrl });
    flow.state = 'sent_email';
    flow.active = 'link';
    setNodeValue(flow.ui, 'email', address.value);
    saveFlow(ctx, flow);
    const token = issueLinkToken(ctx, 'verification', flow, { id: address.id, identity_id: identity.id });
    ctx.courier.send('verification_valid', address.value, verificationLink(ctx, flow.id, token));
    ctx.identities.markAddressSent(address.id, ctx.clock.now());
  }
  return ctx.identities.mustGet(identity.id);
}
