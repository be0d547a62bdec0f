/**
 * The demo app verifies the gateway's identity assertion the way docs/security.md tells an upstream
 * to: jose's createRemoteJWKSet against the gateway's JWKS, then jwtVerify with the issuer and
 * the audience. The page shows the verified claims, or why verification failed.
 */
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { AssertionView } from './page.js';

export interface DemoAssertionOptions {
  /** The header the gateway sends it in. */
  readonly header: string;
  /** `proxy.public_base_url`. */
  readonly issuer: string;
  /** The expected `aud`; undefined: this app's own origin (the gateway's default audience). */
  readonly audience: string | undefined;
  /** Where the JWKS is: a function because the gateway's listeners start after this app. */
  readonly jwksUrl: () => string | undefined;
}

export interface AssertionVerifier {
  verify(req: IncomingMessage): Promise<AssertionView>;
}

export function createAssertionVerifier(opts: DemoAssertionOptions): AssertionVerifier {
  const header = opts.header.toLowerCase();
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  return {
    async verify(req) {
      const token = req.headers[header];
      if (typeof token !== 'string') return { header, result: { kind: 'absent' } };
      const url = opts.jwksUrl();
      if (url === undefined) return { header, result: { kind: 'invalid', reason: 'the gateway JWKS is not known yet' } };
      jwks ??= createRemoteJWKSet(new URL(url));
      const audience =
        opts.audience ??
        `http://${req.socket.localAddress?.includes(':') ? `[${req.socket.localAddress}]` : req.socket.localAddress}:${req.socket.localPort}`;
      try {
        const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: opts.issuer, audience });
        const claims = Object.entries(payload).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as const);
        return { header, result: { kind: 'verified', alg: protectedHeader.alg, kid: protectedHeader.kid, claims } };
      } catch (err) {
        // jose's error codes name the failed check (ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED…); never the token.
        const e = err as { code?: string; message?: string };
        return { header, result: { kind: 'invalid', reason: `${e.code ?? 'error'}: ${e.message ?? ''}`.slice(0, 200) } };
      }
    },
  };
}
