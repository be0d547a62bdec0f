import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../../../config/schema.js';

/** A Kratos credential as the caller presented it. */
export interface Credential {
  readonly source: CredentialExtractor;
  readonly value: string;
}

/**
 * One way a caller can present a Kratos credential. Adding a credential source is one new
 * file implementing this, listed in `index.ts`.
 */
export interface CredentialExtractor {
  /** Stable name; part of the cache key and of log lines. */
  readonly kind: string;
  /** The credential value, or undefined when this source is absent or malformed. */
  extract(headers: IncomingHttpHeaders): string | undefined;
  /** The only headers sent to Kratos whoami: the credential itself, nothing else of the caller's. */
  whoamiHeaders(value: string): Record<string, string>;
  /**
   * What this source reads (lower-case header names, cookie names). The Kratos mount sends the
   * identity server exactly these, as this source read them.
   */
  readonly reads: { readonly headers: readonly string[]; readonly cookies: readonly string[] };
  /**
   * How this source's credential is removed before forwarding (`proxy.strip_credentials`):
   * `authenticatedBy` is true when this source's credential is what authenticated the request.
   * The credential-removal step is every registered source's removeUpstream, in order.
   */
  removeUpstream(headers: IncomingHttpHeaders, authenticatedBy: boolean): void;
}

/** A registry entry: builds a source from the validated configuration. */
export type CredentialSourceFactory = (config: GatewayConfig) => CredentialExtractor;

/** Session tokens and cookie values are opaque, but never contain whitespace or control characters. */
export function isPlausibleToken(value: string): boolean {
  return value.length > 0 && value.length <= 4096 && /^[\x21-\x7e]+$/.test(value);
}
