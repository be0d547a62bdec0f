/**
 * One whoami call and what the cache makes of its answer: the summary, how long it may be kept
 * (the TTL policy), the whoami metrics and span, and the warning when Kratos gave no answer.
 */
import type { GatewayMetrics } from '../../observability/metrics.js';
import { redactUrl } from '../../config/redact.js';
import { ThrottledWarnings, type Logger } from '../../log.js';
import type { Credential } from '../pipeline/credentials/index.js';
import type { LookupTrace } from '../../observability/tracing/types.js';
import { KratosWhoamiClient, WhoamiUnavailable } from './kratos-whoami-client.js';
import { summarizeSession, type SessionSummary } from './session-summary.js';
import { SummaryLayout } from './packed-summary.js';
import type { NotASession } from './store/session-store.js';
import { UNAUTHENTICATED, unavailable, type Resolution, type StepUp } from './resolution.js';

/**
 * What one whoami call (or store load) gave, as its coalesced callers see it. `askedAt`: the
 * store's purge record (PurgeRecord.mark) when it was asked, to spot purges that overtook it.
 * Not what the store keeps: the store holds only the summary; `setCookie` goes only to the
 * callers of this very call.
 */
export type Answer =
  /** `fromStore`: found in the store's slower tier (not asked of Kratos now): may be old enough to re-check. */
  | { negative: false; session: SessionSummary; setCookie?: string[]; askedAt: number; ttlMs: number; fromStore?: true }
  | (NotASession & { ttlMs?: number })
  | { negative: true; stepUp: StepUp; ttlMs: number };

/**
 * A step-up answer is kept at most this long. The credential does not change when the user
 * steps up (Kratos raises the AAL of the same session), so a longer entry would keep refusing
 * a session that is already aal2. A step-up through the mount purges the entry at once; this
 * bounds the delay when the user steps up at Kratos directly.
 */
export const STEP_UP_TTL_CAP_MS = 1_000;

export interface WhoamiAnswerOptions {
  kratosPublicUrl: string;
  whoamiTimeoutMs: number;
  connections: number;
  /** How long answers may be kept (see ask). */
  cache: { ttlCapMs: number; negativeTtlMs: number; honourCacheForHeader: boolean };
  /** Every `identity.…`/`session.…` path header mappings, policies and the assertion read. */
  valuePaths: readonly string[];
  metrics: GatewayMetrics;
  /** Why Kratos gave no answer is logged here at warn, at most once per reason per 10 s. */
  logger?: Logger | undefined;
  /** `identity_assertion.tokenize_as`: whoami asks for Kratos's JWT, and every session answer must carry it. */
  tokenizeAs?: string | undefined;
  /** Which of kratos_instances this Kratos is (its `kratos` metric label); undefined: the top-level kratos. */
  kratos?: string | undefined;
}

export class WhoamiAnswers {
  private readonly client: KratosWhoamiClient;
  private readonly warnings: ThrottledWarnings | undefined;
  /** The Kratos URL as log lines show it: a password in it (basic auth in front of Kratos) is `***`. */
  private readonly kratosForLogs: string;
  /** valuePaths with their slots, once per configuration: what every summary is packed by. */
  private readonly layout: SummaryLayout;

  constructor(private readonly opts: WhoamiAnswerOptions) {
    this.layout = new SummaryLayout(opts.valuePaths);
    this.warnings = opts.logger && new ThrottledWarnings(opts.logger.child({ component: 'session-resolver' }));
    this.kratosForLogs = redactUrl(opts.kratosPublicUrl);
    this.client = new KratosWhoamiClient(opts.kratosPublicUrl, opts.whoamiTimeoutMs, opts.connections, opts.tokenizeAs);
  }

  /**
   * Asks Kratos. A session is kept for min(ttl_cap_ms, its expiry, its JWT's keep-until,
   * Ory-Session-Cache-For when honoured); "not a session" for min(negative_ttl_ms,
   * Ory-Session-Cache-For); a step-up also at most STEP_UP_TTL_CAP_MS. Rejects (after counting
   * and warning) when Kratos gave no answer.
   */
  async ask(credential: Credential, lookup: LookupTrace | undefined, askedAt: number): Promise<Answer> {
    const started = performance.now();
    const c = this.opts.cache;
    let answer;
    let summary: SessionSummary | 'inactive';
    const now = Date.now();
    // Coalesced callers never get here: the whoami span belongs to the first requester's lookup.
    const span = lookup?.startWhoami();
    try {
      answer = await this.client.whoami(credential, span?.headers);
      summary =
        answer.kind === 'active' ? summarizeSessionOrError(answer.body, this.layout, now, this.opts.tokenizeAs !== undefined) : 'inactive';
      span?.end(summary === 'inactive' ? (answer.kind === 'aal2_required' ? 'aal2_required' : 'unauthorized') : 'active', false);
    } catch (err) {
      span?.end(err instanceof WhoamiUnavailable ? err.reason : 'error', true);
      const rateLimited = err instanceof WhoamiUnavailable && err.reason === 'rate_limited';
      this.opts.metrics.whoami(rateLimited ? 'rate_limited' : 'error', (performance.now() - started) / 1000, this.opts.kratos);
      this.warnUnavailable(err);
      throw err;
    }
    const seconds = (performance.now() - started) / 1000;
    const cacheFor = c.honourCacheForHeader ? answer.cacheForMs : undefined;
    if (summary === 'inactive') {
      this.opts.metrics.whoami('unauthorized', seconds, this.opts.kratos);
      // Kratos (whoami caching on) sends `Ory-Session-Cache-For: 60` on a 401 for missing
      // credentials: honoured as an upper bound, never beyond negative_ttl_ms.
      const ttlMs = Math.max(1, Math.min(c.negativeTtlMs, cacheFor ?? Number.POSITIVE_INFINITY));
      if (answer.kind === 'aal2_required') {
        const stepUp: StepUp = { status: 'step_up', reason: answer.reason, redirectBrowserTo: answer.redirectBrowserTo };
        return { negative: true, stepUp, ttlMs: Math.min(ttlMs, STEP_UP_TTL_CAP_MS) };
      }
      return { negative: true, ttlMs };
    }
    this.opts.metrics.whoami('active', seconds, this.opts.kratos);
    // Kratos sends no Ory-Session-Cache-For with a tokenized session: its JWT's exp bounds the entry instead.
    const keepUntilMs = summary.tokenized?.keepUntilMs ?? Number.POSITIVE_INFINITY;
    const ttlMs = Math.max(1, Math.min(c.ttlCapMs, summary.expiresAtMs - now, keepUntilMs - now, cacheFor ?? Number.POSITIVE_INFINITY));
    const setCookie = answer.kind === 'active' ? answer.setCookie : undefined;
    return setCookie
      ? { negative: false, session: summary, setCookie, askedAt, ttlMs }
      : { negative: false, session: summary, askedAt, ttlMs };
  }

  /** Without a cache: the answer as a Resolution, never thrown (Kratos's silence is `unavailable`). */
  async resolve(credential: Credential, span: LookupTrace | undefined): Promise<Resolution> {
    try {
      const value = await this.ask(credential, span, 0);
      if ('stepUp' in value) return value.stepUp;
      return value.negative
        ? UNAUTHENTICATED
        : { status: 'authenticated', session: value.session, ...(value.setCookie ? { setCookie: value.setCookie } : {}) };
    } catch (err) {
      return unavailable(err);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** Once per whoami call (not per coalesced caller). The credential is never part of the line. */
  private warnUnavailable(err: unknown): void {
    if (this.warnings === undefined) return;
    const e = err instanceof WhoamiUnavailable ? err : new WhoamiUnavailable('connect', `Kratos whoami failed: ${(err as Error).message}`);
    this.warnings.warn(
      e.message,
      {
        reason: e.reason,
        ...(e.detail.code !== undefined && { code: e.detail.code }),
        ...(e.detail.status !== undefined && { kratos_status: e.detail.status }),
        kratos: this.kratosForLogs,
      },
      e.message,
    );
  }
}

function summarizeSessionOrError(body: unknown, layout: SummaryLayout, now: number, tokenized: boolean): SessionSummary | 'inactive' {
  try {
    return summarizeSession(body, layout, now, tokenized);
  } catch (err) {
    throw new WhoamiUnavailable('bad_body', (err as Error).message);
  }
}
