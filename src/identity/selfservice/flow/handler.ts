/**
 * Request handling every self-service flow shares (Kratos's selfservice/flow/request.go and
 * the per-flow fetch handlers): fetching a flow by id, loading the flow a submit names, CSRF
 * for browser flows and the Cookie/Origin rule for API flows, and running a submit.
 */
import type { Request, Response } from 'express';
import type { IdentityContext } from '../../driver/context.js';
import { texts } from '../../text/ui-text.js';
import { badRequest, gone, invalidCsrf, notFound, type HttpError } from '../../x/http-error.js';
import { isUuid, parseCookies, queryParam } from '../../x/request-input.js';
import { sendError } from '../../x/response.js';
import { publicUrl } from '../../x/urls.js';
import { writeFlowError } from './error.js';
import { flowJson, FlowExpiredError, FlowValidationError, isExpired, type Flow, type FlowDescriptor } from './flows.js';

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
