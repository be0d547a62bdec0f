import { WhoamiUnavailable } from './kratos-whoami-client.js';
import type { SessionSummary } from './session-summary.js';

/** What SessionResolver says a credential is. */
export type Resolution =
  | { status: 'authenticated'; session: SessionSummary; setCookie?: string[] }
  | { status: 'unauthenticated' }
  /**
   * Kratos v1+ answered `403 session_aal2_required`: a real session that still needs its second
   * factor. Not a session for this request (fail closed), but the browser is to be sent to
   * step up, not to a plain login. `redirectBrowserTo` is Kratos's URL, not yet validated.
   */
  | { status: 'step_up'; reason: string; redirectBrowserTo: string | undefined }
  | { status: 'unavailable'; reason: WhoamiUnavailable['reason']; retryAfter?: string };

export type StepUp = Extract<Resolution, { status: 'step_up' }>;

/** Shared by every "no session" answer: a negative hit allocates nothing (Resolutions are never mutated). */
export const UNAUTHENTICATED: Resolution = Object.freeze({ status: 'unauthenticated' as const });

/** Kratos gave no answer (or one that could not be read): fail closed, saying why. */
export function unavailable(err: unknown): Resolution {
  if (err instanceof WhoamiUnavailable) {
    return err.retryAfter !== undefined
      ? { status: 'unavailable', reason: err.reason, retryAfter: err.retryAfter }
      : { status: 'unavailable', reason: err.reason };
  }
  return { status: 'unavailable', reason: 'connect' };
}
