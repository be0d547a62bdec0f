/**
 * Machinery every self-service flow shares: creating and serialising flows, CSRF for browser
 * flows and the Cookie/Origin rule for API flows, the expired-flow and validation-error
 * responses, and forwarding other errors to the error UI.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { parseCookies } from '../cookies.js';
import { publicUrl, withQuery, type IdentityContext } from '../context.js';
import { minutesBetween } from '../duration.js';
import { badRequest, gone, invalidCsrf, notFound, tooManyRequests, toHttpError, type HttpError } from '../errors.js';
import { isUuid, queryParam, redirect, requestUrl, sendError } from '../http.js';
import { texts, type UiText } from '../messages.js';
import { isJsonRequest } from '../negotiation.js';
import type { FlowKind, StoredFlow } from '../persistence/flows.js';
import { identityJson } from '../serialize.js';
import { addContainerMessage, addNodeMessage, clearMessages, csrfNode, type UiContainer } from '../ui-nodes.js';

export type FlowType = 'api' | 'browser';

export interface Flow extends StoredFlow {
  type: FlowType;
  issued_at: string;
  request_url: string;
  ui: UiContainer;
  active?: string;
  created_at: string;
  updated_at: string;
  forced?: boolean;
  state?: string;
  identity_id?: string;
  /** Settings only: an update paused until the user re-authenticates (never serialised). */
  paused?: { method: string; body: Record<string, unknown>; continuity: string };
}

/** What differs between flow kinds. */
export interface FlowDescriptor {
  kind: FlowKind;
  uiUrl: () => string;
  lifespanMs: () => number;
  /** Adds the kind's nodes and fields to a fresh flow; settings flows are seeded with their identity. */
  build: (flow: Flow, seed: FlowSeed) => void;
  expiredMessage: (minutesAgo: number, expiredAt: string) => UiText;
}

/** Messages written into a flow; answered with the flow (400) or a redirect back to the UI. */
export class FlowValidationError extends Error {
  constructor(readonly issues: Array<{ field?: string | undefined; message: UiText }>) {
    super('flow validation failed');
  }
}

export class FlowExpiredError extends Error {
  constructor(readonly flow: Flow) {
    super('flow expired');
  }
}

/**
 * The masked CSRF token for this response, setting the CSRF cookie when the request has none.
 * Memoised per response so a request never sets two different cookies.
 */
export function csrfTokenFor(ctx: IdentityContext, req: Request, res: Response): string {
  const locals = res.locals as { csrfSecret?: Buffer };
  if (!locals.csrfSecret) {
    const existing = ctx.csrf.secretFromCookies(parseCookies(req.headers.cookie));
    if (existing) locals.csrfSecret = existing;
    else {
      locals.csrfSecret = ctx.csrf.newSecret();
      res.append('Set-Cookie', ctx.csrf.setCookieHeader(locals.csrfSecret));
    }
  }
  return ctx.csrf.mask(locals.csrfSecret);
}

export interface FlowSeed {
  identityId?: string | undefined;
}

/** Where a flow comes from: a request (which may carry the CSRF cookie), or the server itself (admin links). */
export type FlowOrigin = { req: Request; res: Response } | { requestUrl: string };

export function newFlow(ctx: IdentityContext, d: FlowDescriptor, type: FlowType, origin: FlowOrigin, seed: FlowSeed = {}): Flow {
  const now = ctx.clock.now();
  const id = randomUUID();
  const ts = now.toISOString();
  // API init paths skip nosurf in Kratos, so API flows carry an empty token.
  const token = type === 'browser' && 'req' in origin ? csrfTokenFor(ctx, origin.req, origin.res) : '';
  const flow: Flow = {
    id,
    kind: d.kind,
    type,
    expires_at: new Date(now.getTime() + d.lifespanMs()).toISOString(),
    issued_at: ts,
    request_url: 'req' in origin ? requestUrl(origin.req) : origin.requestUrl,
    ui: { action: publicUrl(ctx, `/self-service/${d.kind}?flow=${id}`), method: 'POST', nodes: [csrfNode(token)] },
    created_at: ts,
    updated_at: ts,
  };
  if (seed.identityId) flow.identity_id = seed.identityId;
  d.build(flow, seed);
  return flow;
}

export function saveFlow(ctx: IdentityContext, flow: Flow): void {
  flow.updated_at = ctx.clock.now().toISOString();
  ctx.flows.save(flow);
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

export function flowJson(ctx: IdentityContext, f: Flow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: f.id,
    type: f.type,
    expires_at: f.expires_at,
    issued_at: f.issued_at,
    request_url: f.request_url,
  };
  if (f.active) out.active = f.active;
  out.ui = f.ui;
  switch (f.kind) {
    case 'login':
      out.created_at = f.created_at;
      out.updated_at = f.updated_at;
      out.forced = f.forced === true;
      break;
    case 'settings': {
      const identity = f.identity_id ? ctx.identities.get(f.identity_id) : undefined;
      if (identity) out.identity = identityJson(ctx, identity);
      out.state = f.state;
      break;
    }
    case 'recovery':
    case 'verification':
      out.state = f.state;
      break;
    case 'registration':
      break;
  }
  return out;
}

export function isExpired(ctx: IdentityContext, f: { expires_at: string }): boolean {
  return Date.parse(f.expires_at) <= ctx.clock.now().getTime();
}

export function uiRedirect(d: FlowDescriptor, flowId: string): string {
  return withQuery(d.uiUrl(), { flow: flowId });
}

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

/** GET /self-service/<kind>/flows?id=: 404 unknown, 410 expired (with where to start over). */
export function fetchFlowHandler(ctx: IdentityContext, d: Pick<FlowDescriptor, 'kind'>) {
  return (req: Request, res: Response): void => {
    const id = queryParam(req, 'id');
    const flow = isUuid(id) ? ctx.flows.get<Flow>(id, d.kind) : undefined;
    if (!flow) return sendError(res, notFound());
    if (isExpired(ctx, flow)) return sendError(res, expiredFetchError(ctx, d, flow));
    res.status(200).json(flowJson(ctx, flow));
  };
}

export function expiredFetchError(ctx: IdentityContext, d: Pick<FlowDescriptor, 'kind'>, flow: Flow): HttpError {
  const k = d.kind;
  return gone(
    `The ${k} flow has expired. Redirect the user to the ${k} flow init endpoint to initialize a new ${k} flow.`,
    flow.type === 'browser'
      ? { redirect_to: publicUrl(ctx, `/self-service/${k}/browser`) }
      : { api: publicUrl(ctx, `/self-service/${k}/api`) },
  );
}

/** The flow a submit names with `?flow=`; 400 when the parameter is missing or malformed, 404 when unknown. */
export function submittedFlow(ctx: IdentityContext, d: FlowDescriptor, req: Request): Flow {
  const id = queryParam(req, 'flow');
  if (!isUuid(id)) throw badRequest('The flow query parameter is missing or malformed.');
  const flow = ctx.flows.get<Flow>(id, d.kind);
  if (!flow) throw notFound();
  return flow;
}

/** API flows refuse browser traffic; browser flows need the body's csrf_token to match the cookie. */
export function ensureCsrf(ctx: IdentityContext, req: Request, flow: Flow, body: Record<string, unknown>): void {
  if (flow.type === 'api') {
    if (req.headers.cookie !== undefined) throw new FlowValidationError([{ message: texts.apiFlowHeader('Cookie') }]);
    if (req.headers.origin !== undefined) throw new FlowValidationError([{ message: texts.apiFlowHeader('Origin') }]);
    return;
  }
  const secret = ctx.csrf.secretFromCookies(parseCookies(req.headers.cookie));
  if (!ctx.csrf.verify(secret, body.csrf_token)) throw invalidCsrf();
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

export function uiUrlOf(ctx: IdentityContext, kind: FlowKind): string {
  return ctx.cfg.flows[kind].uiUrl;
}

/** Runs a submit: loads the flow, rejects expired ones, and turns any failure into the Kratos response. */
export function submitHandler(ctx: IdentityContext, d: FlowDescriptor, fn: (req: Request, res: Response, flow: Flow) => Promise<void>) {
  return async (req: Request, res: Response): Promise<void> => {
    let flow: Flow | undefined;
    try {
      flow = submittedFlow(ctx, d, req);
      if (isExpired(ctx, flow)) throw new FlowExpiredError(flow);
      await fn(req, res, flow);
    } catch (err) {
      writeFlowError(ctx, d, req, res, flow, err);
    }
  };
}
