/**
 * The settings flow (Kratos's selfservice/flow/settings/handler.go): profile (traits) and
 * password updates for the session's identity, guarded by privileged_session_max_age. A browser
 * whose session is too old is sent to re-authenticate and the paused update resumes afterwards
 * (continuity cookie).
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import { serialize } from 'cookie';
import type { IdentityContext } from '../../../driver/context.js';
import { identityJson } from '../../../identity/identity.js';
import { sessionOf } from '../../../session/manager.js';
import type { SessionRecord } from '../../../session/session.js';
import { texts } from '../../../text/ui-text.js';
import { addContainerMessage } from '../../../ui/form-nodes.js';
import { badRequest, forbidden, unauthorized } from '../../../x/http-error.js';
import { isJsonRequest } from '../../../x/negotiation.js';
import { sha256Hex } from '../../../x/random.js';
import { bodyOf, isUuid, parseCookies, queryParam } from '../../../x/request-input.js';
import { redirect, sendError } from '../../../x/response.js';
import { secureRedirectTarget } from '../../../x/secure-redirect.js';
import { publicUrl, withQuery } from '../../../x/urls.js';
import { updatePassword } from '../../strategy/password/settings-method.js';
import { updateProfile } from '../../strategy/profile/settings-method.js';
import { handled, writeFlowError } from '../error.js';
import { FlowExpiredError, FlowValidationError, flowJson, isExpired, saveFlow, uiRedirect, type Flow } from '../flows.js';
import { ensureCsrf, expiredFetchError } from '../handler.js';
import { NeedsReauthError, newSettingsFlow, rebuildNodes, settingsDescriptor } from './settings-flow.js';

const CONTINUITY_COOKIE = 'ory_kratos_continuity';
const CONTINUITY_MS = 15 * 60_000;
const TOO_OLD = 'The login session is too old and thus not allowed to update these fields. Please re-authenticate.';
const OTHER_IDENTITY = 'The request was made for another identity and has been blocked for security reasons.';

/** Applies one settings update with the method the body names; returns that method. */
async function applyUpdate(
  ctx: IdentityContext,
  flow: Flow,
  session: SessionRecord,
  body: Record<string, unknown>,
  json: boolean,
): Promise<string> {
  const method = body.method;
  if (method === 'profile') {
    updateProfile(ctx, flow, session, body, json);
    return 'profile';
  }
  if (method === 'password') {
    await updatePassword(ctx, session, body);
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
