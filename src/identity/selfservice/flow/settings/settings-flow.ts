/**
 * The settings flow's document (Kratos's selfservice/flow/settings/flow.go): its form for the
 * session's identity, and the privileged-session rule its methods apply.
 */
import type { IdentityContext } from '../../../driver/context.js';
import type { SessionRecord } from '../../../session/session.js';
import { labels, texts } from '../../../text/ui-text.js';
import { passwordNode, submitNode } from '../../../ui/form-nodes.js';
import { newFlow, type Flow, type FlowDescriptor, type FlowOrigin, type FlowType } from '../flows.js';

/** Thrown when the session is older than privileged_session_max_age for the requested change. */
export class NeedsReauthError extends Error {}

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
export function rebuildNodes(ctx: IdentityContext, flow: Flow): void {
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

export function requirePrivileged(ctx: IdentityContext, session: SessionRecord): void {
  const maxAge = ctx.cfg.flows.settings.privilegedSessionMaxAgeMs;
  if (Date.parse(session.authenticated_at) + maxAge <= ctx.clock.now().getTime()) throw new NeedsReauthError();
}
