import type { IncomingHttpHeaders } from 'node:http';
import type { Route } from '../routing/route-table.js';
import type { SessionSummary } from '../session/session-summary.js';

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
 * new file implementing this, listed in `index.ts`. Mutators run after identity headers were
 * stripped and hop-by-hop headers removed, so what they set is what the upstream sees.
 */
export interface HeaderMutator {
  mutate(headers: IncomingHttpHeaders, ctx: ForwardContext): void;
}
