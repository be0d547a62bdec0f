/**
 * The profile method of the settings flow (Kratos's selfservice/strategy/profile): new traits
 * for the session's identity. Only a change to login identifiers or verifiable addresses needs
 * a recent login.
 */
import type { IdentityContext } from '../../../driver/context.js';
import type { SessionRecord } from '../../../session/session.js';
import { texts } from '../../../text/ui-text.js';
import { setNodeValue } from '../../../ui/form-nodes.js';
import { badRequest, HttpError } from '../../../x/http-error.js';
import { FlowValidationError, type Flow } from '../../flow/flows.js';
import { requirePrivileged } from '../../flow/settings/settings-flow.js';
import { sendVerificationLinks } from '../link/verification.js';

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

/** Throws FlowValidationError, NeedsReauthError or HttpError. `json`: the body is JSON, not a form. */
export function updateProfile(
  ctx: IdentityContext,
  flow: Flow,
  session: SessionRecord,
  body: Record<string, unknown>,
  json: boolean,
): void {
  const identity = ctx.identities.mustGet(session.identity.id);
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
}
