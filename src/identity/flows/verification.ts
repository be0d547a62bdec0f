/** Email verification with the link method, and the automatic verification hook. */
import type { Request, Response, Router } from 'express';
import { publicUrl, withQuery, type IdentityContext } from '../context.js';
import { redirect } from '../http.js';
import { texts } from '../messages.js';
import type { IdentityRecord } from '../persistence/identities.js';
import { secureRedirectTarget } from '../return-to.js';
import { setNodeValue } from '../ui-nodes.js';
import { isExpired, newFlow, saveFlow, uiRedirect, type Flow, type FlowDescriptor, type FlowType } from './common.js';
import { expiredTokenMessage, linkDescriptor, mountLinkFlow, restartWith, type LinkFlowSpec } from './link-method.js';

function verificationLink(ctx: IdentityContext, flowId: string, token: string): string {
  return withQuery(publicUrl(ctx, '/self-service/verification'), { flow: flowId, token });
}

function spec(ctx: IdentityContext, d: () => FlowDescriptor): LinkFlowSpec {
  const s: LinkFlowSpec = {
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
      const token = ctx.tokens.create(
        { kind: 'verification', flow_id: flow.id, identity_id: address.identity_id, address_id: address.id, expires_at: flow.expires_at },
        ctx.clock.now(),
      );
      ctx.courier.send('verification_valid', email, verificationLink(ctx, flow.id, token));
      ctx.identities.markAddressSent(address.id, ctx.clock.now());
    },
    useToken: (req: Request, res: Response, token: string) => {
      const t = ctx.tokens.consume(token, 'verification');
      const flow = t ? ctx.flows.get<Flow>(t.flow_id, 'verification') : undefined;
      if (!t || t.used || !flow || !t.address_id) return restartWith(ctx, d(), req, res, 'browser', texts.verificationTokenInvalid());
      if (isExpired(ctx, t)) return restartWith(ctx, d(), req, res, 'browser', expiredTokenMessage(ctx, s, t.expires_at));
      ctx.identities.markAddressVerified(t.address_id, ctx.clock.now());
      flow.state = 'passed_challenge';
      saveFlow(ctx, flow);
      ctx.logger.info({ identity_id: t.identity_id }, 'address verified');
      redirect(res, secureRedirectTarget(ctx, flow.request_url, [ctx.cfg.flows.verification.after.defaultBrowserReturnUrl, uiRedirect(d(), flow.id)]));
    },
  };
  return s;
}

export function mountVerification(ctx: IdentityContext, router: Router): void {
  let d: FlowDescriptor | undefined;
  d = mountLinkFlow(ctx, router, spec(ctx, () => d as FlowDescriptor));
}

/**
 * The verification hook Kratos prepends after registration and settings when verification is
 * enabled: one flow and one email per pending address. Returns the identity with updated statuses.
 */
export function sendVerificationLinks(ctx: IdentityContext, identity: IdentityRecord, type: FlowType, originalRequestUrl: string): IdentityRecord {
  const pending = identity.verifiable_addresses.filter((a) => a.status === 'pending');
  if (pending.length === 0) return identity;
  const d = linkDescriptor(ctx, spec(ctx, () => d));
  const afterVerification = (() => {
    try {
      return new URL(originalRequestUrl).searchParams.get('after_verification_return_to') ?? undefined;
    } catch {
      return undefined;
    }
  })();
  const requestUrl = withQuery(publicUrl(ctx, `/self-service/verification/${type}`), afterVerification ? { return_to: afterVerification } : {});
  for (const address of pending) {
    const flow = newFlow(ctx, d, type, { requestUrl });
    flow.state = 'sent_email';
    flow.active = 'link';
    setNodeValue(flow.ui, 'email', address.value);
    saveFlow(ctx, flow);
    const token = ctx.tokens.create(
      { kind: 'verification', flow_id: flow.id, identity_id: identity.id, address_id: address.id, expires_at: flow.expires_at },
      ctx.clock.now(),
    );
    ctx.courier.send('verification_valid', address.value, verificationLink(ctx, flow.id, token));
    ctx.identities.markAddressSent(address.id, ctx.clock.now());
  }
  return ctx.identities.mustGet(identity.id);
}
