/**
 * Mints the signed identity assertion (a compact JWS) from a cached session summary, and
 * caches it per (session, audience): a session's requests pay for one signature, not one
 * each. A token is re-minted once three quarters of its lifetime have passed, so an upstream
 * never receives one about to expire.
 *
 * Signed with node:crypto rather than jose's SignJWT, deliberately: mutators run synchronously
 * on the hot path (a cache hit costs no promise and no tick) and SignJWT is async only (it signs
 * through WebCrypto), so it would make every mint point await. It is also slower per token:
 * `bench/assertion-sign.ts` (node 20, same key and claims, one at a time) measured
 * ES256 ≈ 40 µs CPU here vs ≈ 100–130 µs with SignJWT, EdDSA ≈ 40 vs ≈ 95–120, RS256 ≈ 235–255
 * vs ≈ 345–415. A cached token, what a hot session's request pays, costs ≈ 260 ns.
 * What is hand-made is only the JWS framing (base64url header and payload, `alg`/`kid`/`typ`,
 * ES256 signatures in IEEE P1363 form as RFC 7518 requires); every token that bench makes, and
 * those of the integration tests for all three algorithms, verify with jose's jwtVerify, which
 * is what upstreams, the tests and the demo use.
 */
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SessionSummary } from '../session/session-summary.js';
import type { AssertionAlgorithm, AssertionKeys } from './keys.js';

/** Session value paths the assertion reads besides the configured claims (kept when the whoami body has them). */
export const AAL_PATH = 'session.authenticator_assurance_level';
export const AMR_PATH = 'session.authentication_methods';

export interface MinterOptions {
  readonly issuer: string;
  readonly ttlMs: number;
  /** Claim name → session value path. */
  readonly claims: ReadonlyArray<readonly [claim: string, valuePath: string]>;
  /** Bound on cached tokens (sessions × audiences). */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Minted {
  readonly token: string;
  readonly refreshAtMs: number;
  readonly summary: SessionSummary;
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** Summary values are header-safe strings: `%` appears only in percent-encoded ones (http/header-value.ts). */
function claimValue(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Kratos `authentication_methods` (an array of `{ method, … }`) as RFC 8176-style `amr` strings. */
function amrOf(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(claimValue(v));
    if (!Array.isArray(parsed)) return undefined;
    const methods = parsed.flatMap((m: unknown) =>
      m !== null && typeof m === 'object' && typeof (m as { method?: unknown }).method === 'string'
        ? [(m as { method: string }).method]
        : [],
    );
    return methods.length > 0 ? [...new Set(methods)] : undefined;
  } catch {
    return undefined;
  }
}

function sameSession(a: SessionSummary, b: SessionSummary): boolean {
  if (a === b) return true;
  if (a.identityId !== b.identityId || a.expiresAtMs !== b.expiresAtMs || a.values.size !== b.values.size) return false;
  for (const [k, v] of a.values) if (b.values.get(k) !== v) return false;
  return true;
}

function signer(algorithm: AssertionAlgorithm, key: KeyObject): (data: Buffer) => Buffer {
  if (algorithm === 'ES256') return (data) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  if (algorithm === 'RS256') return (data) => sign('sha256', data, key);
  return (data) => sign(null, data, key);
}

export class AssertionMinter {
  private readonly cache: LRUCache<string, Minted>;
  private readonly header: string;
  private readonly sign: (data: Buffer) => Buffer;
  private readonly now: () => number;
  /** Signatures made, for tests and the benchmark. */
  minted = 0;
  /** The public keys, for the JWKS endpoints. */
  readonly jwksBody: string;

  constructor(
    keys: AssertionKeys,
    private readonly options: MinterOptions,
  ) {
    this.cache = new LRUCache({ max: options.maxEntries ?? 10_000 });
    this.header = b64url(JSON.stringify({ alg: keys.algorithm, kid: keys.signingKid, typ: 'JWT' }));
    this.sign = signer(keys.algorithm, keys.signingKey);
    this.now = options.now ?? Date.now;
    this.jwksBody = keys.jwksBody;
  }

  tokenFor(session: SessionSummary, audience: string): string {
    const key = `${session.sessionId}\0${audience}`;
    const nowMs = this.now();
    const cached = this.cache.get(key);
    if (cached !== undefined && nowMs < cached.refreshAtMs && sameSession(cached.summary, session)) return cached.token;
    const minted = this.mint(session, audience, nowMs);
    this.cache.set(key, minted);
    return minted.token;
  }

  private mint(session: SessionSummary, audience: string, nowMs: number): Minted {
    const iat = Math.floor(nowMs / 1000);
    // Never past the session: an upstream must not accept the assertion of a session Kratos ended.
    // Whole seconds (NumericDate); the TTL rounded up so a short one does not end at once.
    const exp = Math.min(iat + Math.ceil(this.options.ttlMs / 1000), Math.floor(session.expiresAtMs / 1000));
    const expMs = exp * 1000;
    const payload: Record<string, unknown> = {
      iss: this.options.issuer,
      sub: session.identityId,
      aud: audience,
      iat,
      nbf: iat,
      exp,
      jti: randomUUID(),
      sid: session.sessionId,
    };
    const aal = session.values.get(AAL_PATH);
    if (aal !== undefined) payload.aal = aal;
    const amr = amrOf(session.values.get(AMR_PATH));
    if (amr !== undefined) payload.amr = amr;
    for (const [claim, path] of this.options.claims) {
      const v = session.values.get(path);
      if (v !== undefined) payload[claim] = claimValue(v);
    }
    const input = `${this.header}.${b64url(JSON.stringify(payload))}`;
    const token = `${input}.${this.sign(Buffer.from(input, 'latin1')).toString('base64url')}`;
    this.minted++;
    return { token, refreshAtMs: nowMs + (expMs - nowMs) * 0.75, summary: session };
  }
}
