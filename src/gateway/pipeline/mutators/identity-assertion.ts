import type { GatewayConfig } from '../../../config/schema.js';
import { assertionKeysFor } from '../../assertion/keys.js';
import { normalizeHeaderName } from '../../../http/header-name.js';
import { AssertionMinter } from '../../assertion/minter.js';
import type { HeaderMutator } from './types.js';

export interface IdentityAssertionMutator extends HeaderMutator {
  /** Undefined with `tokenize_as`: Kratos signs, the gateway has no keys and no JWKS. */
  readonly minter: AssertionMinter | undefined;
  /** The Kratos token template whose JWT is forwarded, when configured. */
  readonly tokenizeAs: string | undefined;
}

/**
 * The signed identity assertion (`identity_assertion`): a JWT about the session in one header,
 * which an upstream verifies against the gateway's JWKS instead of trusting plain headers
 * (useful when something other than the gateway can reach it). Declaring the header in `sets`
 * makes the gateway strip it from every caller. Audience: the route's
 * `identity_assertion_audience`, else `identity_assertion.audience`, else the upstream origin.
 *
 * With `tokenize_as` the header carries Kratos's own JWT of the session (the resolver asked
 * whoami for it and refuses a session answer without it). A summary that somehow lacks it gets
 * no header at all: the caller's was stripped, so the upstream sees no assertion, never a stale one.
 */
export function identityAssertionFor(config: GatewayConfig): IdentityAssertionMutator | undefined {
  const c = config.identity_assertion;
  if (!c.enabled) return undefined;
  const header = normalizeHeaderName(c.header);
  if (c.tokenize_as !== undefined) {
    return {
      sets: [header],
      minter: undefined,
      tokenizeAs: c.tokenize_as,
      mutate(headers, { route, session }) {
        const jwt = route === undefined ? undefined : session?.tokenized?.jwt;
        if (jwt !== undefined) headers[header] = jwt;
      },
    };
  }
  const keys = assertionKeysFor(c);
  const minter = new AssertionMinter(keys, { issuer: config.proxy.public_base_url, ttlMs: c.ttl_ms, claims: Object.entries(c.claims) });
  const audiences = new Map<string, string>();
  for (const r of config.routes) audiences.set(r.name, r.identity_assertion_audience ?? c.audience ?? new URL(r.upstream).origin);
  return {
    sets: [header],
    minter,
    tokenizeAs: undefined,
    mutate(headers, { route, session }) {
      if (session === undefined || route === undefined) return;
      headers[header] = minter.tokenFor(session, audiences.get(route.name) ?? route.upstream.origin);
    },
  };
}
