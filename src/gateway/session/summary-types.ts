/**
 * What the gateway keeps of a Kratos session: only what header injection and policy need,
 * already rendered as header-safe strings, so a cache hit does no parsing or formatting.
 * summarizeSession builds the compact form (packed-summary.ts); tests and other stages may
 * build one by hand with Maps and Sets.
 */
export interface SessionSummary {
  readonly identityId: string;
  readonly sessionId: string;
  /** Epoch ms; the cache never serves an entry past this. */
  readonly expiresAtMs: number;
  /**
   * Epoch ms of the whoami call this came from (when it was asked, so never later than Kratos
   * vouched for it): how old the answer is, for `session_cache.revalidate_after_ms`. Kept by a
   * shared tier with the summary, so an answer loaded from another instance keeps its age.
   */
  readonly checkedAtMs?: number;
  /** Source path (e.g. `identity.traits.email`) → header-safe value; absent when the session has none. */
  readonly values: ReadonlyMap<string, string>;
  /*
   * What policies read (summarizeSession always sets these; optional so a summary built by
   * hand, as in tests of other stages, need not spell them out). Absent reads as least:
   * no claims, aal1, no recency, no schema, no verified address.
   */
  /**
   * For route policies: each `identity.traits.…` / `identity.metadata_public.…` value path →
   * its value as strings (a list claim keeps each scalar element); absent when the session has
   * none or it is not a scalar (or a list of them).
   */
  readonly claims?: ReadonlyMap<string, readonly string[]>;
  /** `authenticator_assurance_level` as a number; 1 when absent (Kratos v0.6 has no AAL). */
  readonly aal?: number;
  /** `authenticated_at` in epoch ms; undefined when absent or unparseable (recency then never holds). */
  readonly authenticatedAtMs?: number | undefined;
  readonly schemaId?: string | undefined;
  /** Lower-cased values of the identity's verified addresses (an email address only if it is one mailbox, mailbox.ts). */
  readonly verifiedAddresses?: ReadonlySet<string>;
  /**
   * Kratos's own JWT of this session (`identity_assertion.tokenize_as`): forwarded to upstreams
   * as the identity assertion. It is a bearer assertion (anyone holding it is this identity to
   * an upstream until `exp`), so it is never stored in a shared tier (Redis): a summary that has
   * it lives only in this process's memory. Present only when tokenize_as is configured.
   */
  readonly tokenized?: TokenizedSession;
}

export interface TokenizedSession {
  /** The compact JWS exactly as Kratos sent it. */
  readonly jwt: string;
  /** Its `exp` in epoch ms (read from the payload, not verified: it came from the configured Kratos URL). */
  readonly expiresAtMs: number;
  /**
   * Epoch ms until which the cache may keep the summary: three quarters of the token's remaining
   * life, as a locally signed assertion is re-minted, so an upstream never gets one about to expire.
   */
  readonly keepUntilMs: number;
}
