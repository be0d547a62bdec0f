/**
 * What every self-service flow is (Kratos's selfservice/flow and its per-flow flow.go): the
 * stored document, creating one (with the CSRF token its form carries), saving it, its JSON
 * shape, expiry, and where its UI lives.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { IdentityContext } from '../../driver/context.js';
import { identityJson } from '../../identity/identity.js';
import type { FlowKind, StoredFlow } from '../../persistence/flow-store.js';
import type { UiText } from '../../text/ui-text.js';
import { csrfNode, type UiContainer } from '../../ui/form-nodes.js';
import { parseCookies, requestUrl } from '../../x/request-input.js';
import { publicUrl, withQuery } from '../../x/urls.js';

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

export function uiUrlOf(ctx: IdentityContext, kind: FlowKind): string {
  return ctx.cfg.flows[kind].uiUrl;
}
