/**
 * The settings flow: profile (traits) and password updates for the session's identity,
 * guarded by privileged_session_max_age. A browser whose session is too old is sent to
 * re-authenticate and the paused update resumes afterwards (continuity cookie).
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import { serialize } from 'cookie';
import { parseCookies } from '../cookies.js';
import { publicUrl, withQuery, type IdentityContext } from '../context.js';
import { badRequest, forbidden, HttpError, unauthorized } from '../errors.js';
import { bodyOf, isUuid, queryParam, redirect, sendError, sessionOf, stringField } from '../http.js';
import { labels, texts } from '../messages.js';
import { isJsonRequest } from '../negotiation.js';
import { passwordProblem } from '../password-policy.js';
import type { SessionRecord } from '../persistence/sessions.js';
import { sha256Hex } from '../random.js';
import { secureRedirectTarget } from '../return-to.js';
import { identityJson } from '../serialize.js';
import { addContainerMessage, passwordNode, setNodeValue, submitNode } from '../ui-nodes.js';
import {
  ensureCsrf,
  expiredFetchError,
  FlowExpiredError,
  FlowValidationError,
  flowJson,
  handled,
  isExpired,
  newFlow,
  saveFlow,
  uiRedirect,
  writeFlowError,
  type Flow,
  type FlowDescriptor,
  type FlowOrigin,
  type FlowType,
} from './common.js';
import { sendVerificationLinks } from './verification.js';

const CONTINUITY_COOKIE = 'ory_kratos_continuity';
const CONTINUITY_MS = 15 * 60_000;
const TOO_OLD = 'The login session is too old and thus not allowed to update these fields. Please re-authenticate.';
const OTHER_IDENTITY = 'The request was made for another identity and has been blocked for security reasons.';

/** Thrown when the session is older than privileged_session_max_age for the requested change. */
class NeedsReauthError extends Error {}

export function settingsDescriptor(ctx: IdentityContext): FlowDescriptor {
  return {
    kind: 'settings',
    uiUrl: () => ctx.cfg.flows.settings.uiUrl,
    lifespanMs: () => ctx.cfg.flows.settings.lifespanMs,
    expiredMessage: texts.settingsExpired,
    build: (flow: Flow) => {
      flow.state = 'show_form';
      rebuildNodes(ctx, flow);
    },
  };
}

/** Nodes in v0.6 group order: default (csrf), profile (traits + Save), password (password + Save). */
function rebuildNodes(ctx: IdentityContext, flow: Flow): void {
  const identity = flow.identity_id ? ctx.identities.get(flow.identity_id) : undefined;
  const csrf = flow.ui.nodes.filter((n) => n.attributes.name === 'csrf_token');
  const traits = identity ? ctx.schemas.nodes(identity.schema_id, 'profile', identity.traits) : [];
  flow.ui.nodes = [
    ...csrf,
    ...traits,
    submitNode('profile', 'profile', labels.save()),
    passwordNode(),
    submitNode('password', 'password', labels.save()),
  ];
}

export function newSettingsFlow(ctx: IdentityContext, type: FlowType, origin: FlowOrigin, identityId: string): Flow {
  return newFlow(ctx, settingsDescriptor(ctx), type, origin, { identityId });
}

function requirePrivileged(ctx: IdentityContext, session: SessionRecord): void {
  const maxAge = ctx.cfg.flows.settings.privilegedSessionMaxAgeMs;
  if (Date.parse(session.authenticated_at) + maxAge <= ctx.clock.now().getTime()) throw new NeedsReauthError();
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

/** Applies one settings update; throws FlowValidationError, NeedsReauthError or HttpError. */
async function applyUpdate(
  ctx: IdentityContext,
  flow: Flow,
  session: SessionRecord,
  body: Record<string, unknown>,
  json: boolean,
): Promise<string> {
  const identity = ctx.identities.mustGet(session.identity.id);
  const method = body.method;
  if (method === 'profile') {
    if (body.traits === undefined) throw badRequest('Did not receive any value changes.');
    const traits = (json ? body.traits : ctx.schemas.coerceFormTraits(identity.schema_id, body.traits)) as Record<string, unknown>;
    for (const node of ctx.schemas.nodes(identity.schema_id, 'profile', traits))
      setNodeValue(flow.ui, node.attributes.name, node.attributes.value);
    const issues = ctx.schemas.validate(identity.schema_id, traits);
    if (issues.length > 0) throw new FlowValidationError(issues);
    const before = ctx.schemas.derive(identity.schema_id, identity.traits);
    const after = ctx.schemas.derive(identity.schema_id, traits);
    // Only changes to credential identifiers or verifiable addresses need a fresh login.
    if (!sameSet(before.identifiers, after.identifiers) || !sameSet(before.verifiable, after.verifiable)) requirePrivileged(ctx, session);
    let updated;
    try {
      updated = ctx.identities.update(identity.id, { schemaId: identity.schema_id, traits, derived: after }, ctx.clock.now());
    } catch (e) {
      if (e instanceof HttpError && e.code === 409) throw new FlowValidationError([{ message: texts.duplicateIdentifier() }]);
      throw e;
    }
    if (ctx.cfg.flows.verification.enabled) sendVerificationLinks(ctx, updated, flow.type, flow.request_url);
    return 'profile';
  }
  if (method === 'password') {
    requirePrivileged(ctx, session);
    const password = stringField(body, 'password') ?? '';
    if (password === '') throw new FlowValidationError([{ field: 'password', message: texts.missingProperty('password') }]);
    const derived = ctx.schemas.derive(identity.schema_id, identity.traits);
    const problem = await passwordProblem(derived.identifiers[0] ?? '', password, ctx.cfg.password);
    if (problem) throw new FlowValidationError([{ field: 'password', message: texts.passwordPolicy(problem) }]);
    ctx.identities.setPassword(identity.id, await ctx.hasher.hash(password), derived.identifiers, ctx.clock.now());
    return 'password';
  }
  throw new FlowValidationError([{ message: texts.noSettingsStrategy() }]);
}

export function mountSettings(ctx: IdentityContext, router: Router): void {
  const d = settingsDescriptor(ctx);
  const cfg = ctx.cfg;

  /** No session: JSON clients get 401, browsers go to the login UI. */
  const noSession = (req: Request, res: Response) => {
    if (isJsonRequest(req.headers)) return sendError(res, unauthorized('A valid Ory Session Cookie or Ory Session Token is missing.'));
    redirect(res, cfg.flows.login.uiUrl);
  };

  router.get('/self-service/settings/api', (req, res) => {
    const s = sessionOf(ctx, req);
    if (!s) return sendError(res, forbidden('This endpoint can only be accessed with a valid session. Please log in and try again.'));
    const flow = newSettingsFlow(ctx, 'api', { req, res }, s.session.identity.id);
    saveFlow(ctx, flow);
    res.status(200).json(flowJson(ctx, flow));
  });

  router.get(
    '/self-service/settings/browser',
    handled(ctx, (req, res) => {
      const s = sessionOf(ctx, req);
      if (!s) return redirect(res, cfg.flows.login.uiUrl);
      const flow = newSettingsFlow(ctx, 'browser', { req, res }, s.session.identity.id);
      saveFlow(ctx, flow);
      redirect(res, uiRedirect(d, flow.id));
    }),
  );

  router.get('/self-service/settings/flows', (req, res) => {
    const s = sessionOf(ctx, req);
    if (!s) return noSession(req, res);
    const id = queryParam(req, 'id');
    const flow = isUuid(id) ? ctx.flows.get<Flow>(id, 'settings') : undefined;
    if (!flow) return sendError(res, forbidden('Access privileges are missing, invalid, or the settings flow does not exist.'));
    if (flow.identity_id !== s.session.identity.id) return sendError(res, forbidden(OTHER_IDENTITY));
    if (isExpired(ctx, flow)) return sendError(res, expiredFetchError(ctx, d, flow));
    res.status(200).json(flowJson(ctx, flow));
  });

  const submit = async (req: Request, res: Response, resume: boolean): Promise<void> => {
    let flow: Flow | undefined;
    try {
      const s = sessionOf(ctx, req);
      if (!s) return noSession(req, res);
      const id = queryParam(req, 'flow');
      if (!isUuid(id)) throw badRequest('The flow query parameter is missing or malformed.');
      flow = ctx.flows.get<Flow>(id, 'settings');
      if (!flow) throw forbidden('Access privileges are missing, invalid, or the settings flow does not exist.');
      if (flow.identity_id !== s.session.identity.id) throw forbidden(OTHER_IDENTITY);
      if (isExpired(ctx, flow)) throw new FlowExpiredError(flow);

      let body: Record<string, unknown>;
      let json = isJsonRequest(req.headers);
      if (resume) {
        // GET after re-authentication: only a paused update whose continuity cookie we set resumes.
        const paused = flow.paused;
        const cookie = parseCookies(req.headers.cookie)[CONTINUITY_COOKIE];
        if (!paused || !cookie || sha256Hex(cookie) !== paused.continuity) return redirect(res, uiRedirect(d, flow.id));
        body = paused.body;
        json = true;
        delete flow.paused;
        res.append('Set-Cookie', serialize(CONTINUITY_COOKIE, '', { path: '/', httpOnly: true, expires: new Date(0) }));
      } else {
        body = bodyOf(req);
        if (body.method !== 'profile' && body.method !== 'password')
          throw new FlowValidationError([{ message: texts.noSettingsStrategy() }]);
        ensureCsrf(ctx, req, flow, body);
      }
      flow.active = String(body.method);

      let method: string;
      try {
        method = await applyUpdate(ctx, flow, s.session, body, json);
      } catch (e) {
        if (!(e instanceof NeedsReauthError)) throw e;
        if (flow.type === 'api') throw forbidden(TOO_OLD);
        const continuity = randomBytes(32).toString('base64url');
        flow.paused = { method: String(body.method), body, continuity: sha256Hex(continuity) };
        saveFlow(ctx, flow);
        res.append(
          'Set-Cookie',
          serialize(CONTINUITY_COOKIE, continuity, {
            path: '/',
            httpOnly: true,
            sameSite: 'lax',
            maxAge: CONTINUITY_MS / 1000,
            secure: ctx.publicBase.startsWith('https:'),
          }),
        );
        const returnTo = withQuery(publicUrl(ctx, '/self-service/settings'), { flow: flow.id });
        return redirect(res, withQuery(publicUrl(ctx, '/self-service/login/browser'), { refresh: 'true', return_to: returnTo }));
      }

      flow.state = 'success';
      rebuildNodes(ctx, flow);
      for (const n of flow.ui.nodes) n.messages = null;
      flow.ui.messages = [];
      addContainerMessage(flow.ui, texts.settingsSaved());
      saveFlow(ctx, flow);
      const identity = ctx.identities.mustGet(s.session.identity.id);
      if (flow.type === 'api') {
        res.status(200).json({ flow: flowJson(ctx, flow), identity: identityJson(ctx, identity) });
        return;
      }
      if (isJsonRequest(req.headers)) {
        res.status(200).json(identityJson(ctx, identity));
        return;
      }
      const after = cfg.flows.settings.after;
      const byMethod = method === 'password' ? after.password : after.profile;
      redirect(
        res,
        secureRedirectTarget(ctx, flow.request_url, [
          byMethod.defaultBrowserReturnUrl,
          after.defaultBrowserReturnUrl,
          uiRedirect(d, flow.id),
        ]),
      );
    } catch (err) {
      writeFlowError(ctx, d, req, res, flow, err);
    }
  };

  router.post('/self-service/settings', (req, res) => submit(req, res, false));
  router.get('/self-service/settings', (req, res) => submit(req, res, true));
}
