/** The password method of the settings flow (Kratos's selfservice/strategy/password/settings.go): a new password, after a recent login. */
import type { IdentityContext } from '../../../driver/context.js';
import type { SessionRecord } from '../../../session/session.js';
import { texts } from '../../../text/ui-text.js';
import { stringField } from '../../../x/request-input.js';
import { FlowValidationError } from '../../flow/flows.js';
import { requirePrivileged } from '../../flow/settings/settings-flow.js';
import { passwordProblem } from './validator.js';

/** Throws FlowValidationError or NeedsReauthError. */
export async function updatePassword(ctx: IdentityContext, session: SessionRecord, body: Record<string, unknown>): Promise<void> {
  const identity = ctx.identities.mustGet(session.identity.id);
  requirePrivileged(ctx, session);
  const password = stringField(body, 'password') ?? '';
  if (password === '') throw new FlowValidationError([{ field: 'password', message: texts.missingProperty('password') }]);
  const derived = ctx.schemas.derive(identity.schema_id, identity.traits);
  const problem = await passwordProblem(derived.identifiers[0] ?? '', password, ctx.cfg.password);
  if (problem) throw new FlowValidationError([{ field: 'password', message: texts.passwordPolicy(problem) }]);
  ctx.identities.setPassword(identity.id, await ctx.hasher.hash(password), derived.identifiers, ctx.clock.now());
}
