/**
 * How self-service failures become responses (Kratos's selfservice/flow/error.go and
 * errorx): an expired flow starts a new one, a validation error re-renders the same flow, a
 * refused attempt is throttled, anything else goes to the error UI (or as JSON to JSON clients).
 */
import type { NextFunction, Request, Response } from 'express';
import type { IdentityContext } from '../../driver/context.js';
import { addContainerMessage, addNodeMessage, clearMessages } from '../../ui/form-nodes.js';
import type { UiText } from '../../text/ui-text.js';
import { minutesBetween } from '../../x/duration.js';
import { tooManyRequests, toHttpError } from '../../x/http-error.js';
import { isJsonRequest } from '../../x/negotiation.js';
import { parseCookies } from '../../x/request-input.js';
import { redirect, sendError } from '../../x/response.js';
import { publicUrl, withQuery } from '../../x/urls.js';
import {
  csrfTokenFor,
  flowJson,
  FlowExpiredError,
  FlowValidationError,
  newFlow,
  saveFlow,
  uiRedirect,
  uiUrlOf,
  type Flow,
  type FlowDescriptor,
} from './flows.js';

/** Errors that belong to no flow: JSON for JSON clients, otherwise stored and shown by the error UI. */
export function forwardError(ctx: IdentityContext, req: Request, res: Response, err: unknown): void {
  const e = toHttpError(err);
  if (e.code >= 500) ctx.logger.error({ err }, 'identity server: internal error');
  if (isJsonRequest(req.headers)) {
    sendError(res, e);
    return;
  }
  const id = ctx.errors.add(e.toGeneric(), ctx.clock.now());
  redirect(res, withQuery(ctx.cfg.flows.error.uiUrl, { error: id }));
}

/** Wraps a handler so thrown errors are forwarded (error UI for browsers, JSON otherwise). */
export function handled(ctx: IdentityContext, fn: (req: Request, res: Response) => Promise<void> | void) {
  return async (req: Request, res: Response, _next: NextFunction): Promise<void> => {
    try {
      await fn(req, res);
    } catch (err) {
      forwardError(ctx, req, res, err);
    }
  };
}

/**
 * The single place submit errors turn into responses: an expired flow starts a new one, a
 * validation error re-renders the same flow, anything else is forwarded.
 */
export function writeFlowError(
  ctx: IdentityContext,
  d: FlowDescriptor,
  req: Request,
  res: Response,
  flow: Flow | undefined,
  err: unknown,
): void {
  if (err instanceof FlowExpiredError) {
    const old = err.flow;
    const fresh = newFlow(ctx, d, old.type, { req, res }, { identityId: old.identity_id });
    addContainerMessage(fresh.ui, d.expiredMessage(minutesBetween(new Date(old.expires_at), ctx.clock.now()), old.expires_at));
    saveFlow(ctx, fresh);
    if (fresh.type === 'api') return redirect(res, withQuery(publicUrl(ctx, `/self-service/${d.kind}/flows`), { id: fresh.id }));
    return redirect(res, uiRedirect(d, fresh.id));
  }
  if (err instanceof FlowValidationError && flow) {
    clearMessages(flow.ui);
    for (const issue of err.issues) {
      if (!issue.field || !addNodeMessage(flow.ui, issue.field, issue.message)) addContainerMessage(flow.ui, issue.message);
    }
    // A fresh masked token, as Kratos re-renders browser forms with one.
    if (flow.type === 'browser') {
      const csrf = flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token');
      if (csrf && ctx.csrf.secretFromCookies(parseCookies(req.headers.cookie))) csrf.attributes.value = csrfTokenFor(ctx, req, res);
    }
    saveFlow(ctx, flow);
    return respondWithFlow(ctx, req, res, flow, 400);
  }
  forwardError(ctx, req, res, err);
}

/** API flows and JSON clients get the flow; browsers are sent back to the UI for it. */
export function respondWithFlow(ctx: IdentityContext, req: Request, res: Response, flow: Flow, status: number): void {
  if (flow.type === 'api' || isJsonRequest(req.headers)) {
    res.status(status).json(flowJson(ctx, flow));
    return;
  }
  redirect(res, withQuery(uiUrlOf(ctx, flow.kind), { flow: flow.id }));
}

/**
 * Refuses an attempt the backoff holds back. Browsers go back to the form with the message, as
 * for a wrong password, so the UI stays usable (no Retry-After there: on a 302 it would ask the
 * browser to delay loading that page); API and JSON clients get 429 with Retry-After and the
 * message on the flow.
 */
export function refuseThrottled(
  ctx: IdentityContext,
  req: Request,
  res: Response,
  flow: Flow,
  waitSeconds: number,
  uiText: UiText,
  apiMessage: string,
  apiReason: string,
): void {
  if (flow.type === 'browser' && !isJsonRequest(req.headers)) throw new FlowValidationError([{ message: uiText }]);
  clearMessages(flow.ui);
  addContainerMessage(flow.ui, uiText);
  saveFlow(ctx, flow);
  res.setHeader('Retry-After', String(waitSeconds));
  sendError(res, tooManyRequests(apiMessage, waitSeconds, apiReason));
}
