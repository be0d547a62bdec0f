/**
 * The link method (Kratos's selfservice/strategy/link), which is all the recovery and
 * verification flows offer, so it also serves those flows' init and fetch routes (Kratos's
 * selfservice/flow/{recovery,verification}/handler.go): the form (email + submit), the enabled
 * switch, the no-enumeration email submit, redeeming an emailed link, and routes on both the
 * v0.6 base path and the `/methods/link` path the spec and official client still call.
 */
import type { Request, Response, Router } from 'express';
import type { IdentityContext } from '../../../driver/context.js';
import type { LinkToken, LinkTokenKind } from '../../../persistence/link-token-store.js';
import { labels, texts, type UiText } from '../../../text/ui-text.js';
import { addContainerMessage, input, setNodeValue, submitNode } from '../../../ui/form-nodes.js';
import { minutesBetween } from '../../../x/duration.js';
import { badRequest } from '../../../x/http-error.js';
import { bodyOf, queryParam, stringField } from '../../../x/request-input.js';
import { redirect } from '../../../x/response.js';
import { Throttle } from '../../../x/throttle.js';
import { publicUrl, withQuery } from '../../../x/urls.js';
import { forwardError, handled, refuseThrottled, respondWithFlow } from '../../flow/error.js';
import {
  FlowValidationError,
  flowJson,
  isExpired,
  newFlow,
  saveFlow,
  uiRedirect,
  type Flow,
  type FlowDescriptor,
  type FlowType,
} from '../../flow/flows.js';
import { ensureCsrf, fetchFlowHandler, submitHandler } from '../../flow/handler.js';

export interface LinkFlowSpec {
  kind: 'recovery' | 'verification';
  /** "Recovery" / "Verification", used in the disabled-flow error. */
  title: string;
  expiredMessage: (minutesAgo: number, expiredAt: string) => UiText;
  emailSent: () => UiText;
  retrySuccess: () => UiText;
  noStrategy: () => UiText;
  /** Extra checks before init and submit (recovery refuses sessions). Returns true when it answered. */
  guard: (req: Request, res: Response, type: FlowType) => boolean;
  /** Sends the email for an address (or the "unknown address" email); never reveals which. */
  sendEmail: (flow: Flow, email: string) => void;
  tokenInvalid: () => UiText;
  /** Completes the flow once an emailed link's token was redeemed. */
  passChallenge: (req: Request, res: Response, token: LinkToken, flow: Flow) => void;
}

export function linkDescriptor(ctx: IdentityContext, spec: LinkFlowSpec): FlowDescriptor {
  const cfg = ctx.cfg.flows[spec.kind];
  return {
    kind: spec.kind,
    uiUrl: () => cfg.uiUrl,
    lifespanMs: () => cfg.lifespanMs,
    expiredMessage: spec.expiredMessage,
    build: (flow: Flow) => {
      flow.state = 'choose_method';
      flow.ui.nodes.push(input('link', 'email', 'email', { required: true }), submitNode('link', 'link', labels.submit()));
    },
  };
}

/**
 * One email throttle per server, shared by recovery and verification so an inbox's limit counts
 * both kinds; keyed on the context because the two flows are mounted separately.
 */
const emailThrottles = new WeakMap<IdentityContext, Throttle>();
function emailThrottle(ctx: IdentityContext): Throttle {
  let t = emailThrottles.get(ctx);
  if (!t) {
    t = new Throttle(ctx.cfg.emailThrottling);
    emailThrottles.set(ctx, t);
  }
  return t;
}

/** Starts a new flow of a kind with an error message, and sends the client to it. */
function restartWith(ctx: IdentityContext, d: FlowDescriptor, req: Request, res: Response, type: FlowType, message: UiText): void {
  const fresh = newFlow(ctx, d, type, { req, res });
  addContainerMessage(fresh.ui, message);
  saveFlow(ctx, fresh);
  if (type === 'api') return redirect(res, withQuery(publicUrl(ctx, `/self-service/${d.kind}/flows`), { id: fresh.id }));
  redirect(res, uiRedirect(d, fresh.id));
}

function expiredTokenMessage(ctx: IdentityContext, spec: LinkFlowSpec, expiresAt: string): UiText {
  return spec.expiredMessage(minutesBetween(new Date(expiresAt), ctx.clock.now()), expiresAt);
}

/** A single-use link token for an address; it lives as long as the flow it belongs to. */
export function issueLinkToken(
  ctx: IdentityContext,
  kind: LinkTokenKind,
  flow: Flow,
  address: { id: string; identity_id: string },
): string {
  return ctx.tokens.create(
    { kind, flow_id: flow.id, identity_id: address.identity_id, address_id: address.id, expires_at: flow.expires_at },
    ctx.clock.now(),
  );
}

/**
 * Redeems an emailed link's token. Unknown, used and expired tokens start a new browser flow
 * with the matching message and send the browser there (undefined is returned then).
 */
function redeem(ctx: IdentityContext, d: FlowDescriptor, spec: LinkFlowSpec, req: Request, res: Response, token: string) {
  const t = ctx.tokens.consume(token, spec.kind);
  const flow = t ? ctx.flows.get<Flow>(t.flow_id, spec.kind) : undefined;
  if (!t || t.used || !flow || !t.identity_id) return restartWith(ctx, d, req, res, 'browser', spec.tokenInvalid());
  if (isExpired(ctx, t)) return restartWith(ctx, d, req, res, 'browser', expiredTokenMessage(ctx, spec, t.expires_at));
  return { token: t, flow };
}

export function mountLinkFlow(ctx: IdentityContext, router: Router, spec: LinkFlowSpec): FlowDescriptor {
  const d = linkDescriptor(ctx, spec);
  const enabled = () => ctx.cfg.flows[spec.kind].enabled;
  const disabled = () => badRequest(`${spec.title} is not allowed because it was disabled.`);
  const base = `/self-service/${spec.kind}`;

  router.get(`${base}/api`, (req, res) => {
    // Kratos forwards this error like any browser error: JSON for JSON clients, else the error UI.
    if (!enabled()) return forwardError(ctx, req, res, disabled());
    if (spec.guard(req, res, 'api')) return;
    const flow = newFlow(ctx, d, 'api', { req, res });
    saveFlow(ctx, flow);
    res.status(200).json(flowJson(ctx, flow));
  });

  router.get(
    `${base}/browser`,
    handled(ctx, (req, res) => {
      if (!enabled()) throw disabled();
      if (spec.guard(req, res, 'browser')) return;
      const flow = newFlow(ctx, d, 'browser', { req, res });
      saveFlow(ctx, flow);
      redirect(res, uiRedirect(d, flow.id));
    }),
  );

  const fetch = fetchFlowHandler(ctx, d);
  router.get(`${base}/flows`, (req, res) => {
    if (!enabled()) return forwardError(ctx, req, res, disabled());
    fetch(req, res);
  });

  const submitForm = submitHandler(ctx, d, async (req, res, flow) => {
    if (!enabled()) throw disabled();
    if (spec.guard(req, res, flow.type)) return;
    if (flow.state === 'passed_challenge') return restartWith(ctx, d, req, res, flow.type, spec.retrySuccess());
    const body = bodyOf(req);
    if (body.method !== 'link') throw new FlowValidationError([{ message: spec.noStrategy() }]);
    ensureCsrf(ctx, req, flow, body);
    const email = (stringField(body, 'email') ?? '').trim();
    setNodeValue(flow.ui, 'email', email);
    if (email === '') throw new FlowValidationError([{ field: 'email', message: texts.missingProperty('email') }]);
    // As Kratos's link strategy schema (`format: email`): the courier mails exactly this address.
    if (!ctx.schemas.isEmail(email))
      throw new FlowValidationError([{ field: 'email', message: texts.invalidFormat(`${JSON.stringify(email)} is not valid "email"`) }]);

    // Courier abuse: links to one inbox, and emails requested by one client, back off. Unknown
    // addresses (which get the "account access attempted" email) count the same, so a refusal
    // does not reveal whether an account exists.
    const throttle = emailThrottle(ctx);
    const keys = throttle.keys(email, throttle.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']));
    const now = () => ctx.clock.now().getTime();
    const verdict = throttle.begin(keys, now());
    if (!verdict.allowed) {
      const wait = verdict.retryAfterSeconds;
      ctx.logger.warn({ client: keys.client, by: verdict.by, retry_after_s: wait, flow: spec.kind }, 'email throttled');
      return refuseThrottled(
        ctx,
        req,
        res,
        flow,
        wait,
        texts.emailThrottled(wait),
        `Too many emails were requested. Try again in ${wait} seconds.`,
        'Too many emails were requested, please try again later',
      );
    }
    try {
      spec.sendEmail(flow, email.toLowerCase());
    } catch (err) {
      throttle.abandoned(keys, now());
      throw err;
    }
    throttle.failed(keys, now());
    flow.state = 'sent_email';
    flow.active = 'link';
    flow.ui.messages = [spec.emailSent()];
    for (const n of flow.ui.nodes) n.messages = null;
    saveFlow(ctx, flow);
    respondWithFlow(ctx, req, res, flow, 200);
  });

  const submit = handled(ctx, async (req, res) => {
    const token = queryParam(req, 'token');
    if (token !== undefined) {
      if (!enabled()) throw disabled();
      if (spec.guard(req, res, 'browser')) return;
      const redeemed = redeem(ctx, d, spec, req, res, token);
      if (redeemed) spec.passChallenge(req, res, redeemed.token, redeemed.flow);
      return;
    }
    await submitForm(req, res);
  });
  for (const path of [base, `${base}/methods/link`]) {
    router.get(path, submit);
    router.post(path, submit);
  }
  return d;
}
