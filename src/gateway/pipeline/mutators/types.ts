import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../../../config/schema.js';
import type { CredentialExtractor } from '../credentials/types.js';
import type { Route } from '../../routing/route-table.js';
import type { SessionSummary } from '../../session/session-summary.js';

/** What a mutator may know about the request being forwarded. */
export interface ForwardContext {
  /** The matched route; undefined for control-plane traffic (the Kratos mount). */
  readonly route: Route | undefined;
  readonly session: SessionSummary | undefined;
  /** Which credential source authenticated the request, if any. */
  readonly credentialKind: string | undefined;
  readonly requestId: string;
  /** Immediate TCP peer. */
  readonly peerAddress: string | undefined;
  /** Whether the peer is a configured trusted proxy (its X-Forwarded-* are believed). */
  readonly peerTrusted: boolean;
  readonly encrypted: boolean;
}

/**
 * Changes the headers sent upstream after the decision. Adding a header mutator is one
 * new file implementing this, plus one line in the registry (`index.ts`). Mutators run after
 * protected headers were stripped and hop-by-hop headers removed, so what they set is what the
 * upstream sees.
 */
export interface HeaderMutator {
  /**
   * Headers (lower-case) only this mutator may set upstream. They are protected: stripped
   * from every caller request — on every route and every outcome, in any case and with `_`
   * for `-` — and a `Connection` token can never remove them.
   */
  readonly sets: readonly string[];
  /**
   * Headers it sets or extends from what a trusted peer sent (X-Forwarded-*): not stripped
   * from callers, but a `Connection` token can never remove them either.
   */
  readonly extends?: readonly string[];
  mutate(headers: IncomingHttpHeaders, ctx: ForwardContext): void;
  /**
   * Declared by a mutator that removes caller headers judged by their names (forwarded-headers.ts),
   * so that the proxy path removes them in its one walk over the caller's headers
   * (pipeline/caller-headers.ts) instead of this mutator walking them again.
   */
  readonly byName?: RemovalByName;
}

/** A mutator's removal of caller headers by name, split so that the walk over the headers can apply it. */
export interface RemovalByName {
  /**
   * Whether the header may be removed for some request: asked of each caller header once, in
   * the walk (`normalized`: the name lower-cased, `_` as `-`).
   */
  mayRemove(name: string, normalized: string): boolean;
  /** Whether it is removed from this request; asked only of names mayRemove accepted. */
  removes(name: string, ctx: ForwardContext): boolean;
  /** `mutate` without the removal, once the walk has removed what `removes` names. */
  afterRemoval(headers: IncomingHttpHeaders, ctx: ForwardContext): void;
}

/** What a mutator's registry entry is given: the validated configuration and the snapshot's credential sources. */
export interface MutatorInputs {
  readonly config: GatewayConfig;
  readonly credentialSources: readonly CredentialExtractor[];
  /** Sources an earlier snapshot of this process read and this one no longer does: removed upstream, never read. */
  readonly retiredCredentialSources?: readonly CredentialExtractor[];
}

/** A registry entry: the mutator for this configuration, or undefined when it is switched off. */
export type MutatorFactory = (inputs: MutatorInputs) => HeaderMutator | undefined;
