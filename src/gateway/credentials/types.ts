import type { IncomingHttpHeaders } from 'node:http';

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
}

/** Session tokens and cookie values are opaque, but never contain whitespace or control characters. */
export function isPlausibleToken(value: string): boolean {
  return value.length > 0 && value.length <= 4096 && /^[\x21-\x7e]+$/.test(value);
}
