/**
 * Browser-flow CSRF protection with Kratos v0.6's nosurf scheme: a cookie holding 32 random
 * bytes, and a form token that is that secret XOR a fresh one-time pad (base64 of pad||masked),
 * so the value embedded in pages differs every time while still checking against the cookie.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize } from 'cookie';

const TOKEN_LEN = 32;
const ONE_YEAR_S = 365 * 24 * 3600;

export class CsrfProtection {
  readonly cookieName: string;
  private readonly path: string;
  private readonly domain: string;
  private readonly secure: boolean;

  constructor(publicBaseUrl: string) {
    // Kratos names the cookie after the public URL so two Kratos instances on one domain do not collide.
    this.cookieName = `${Buffer.from(publicBaseUrl).toString('base64url')}_csrf_token`;
    const u = new URL(publicBaseUrl);
    this.path = u.pathname || '/';
    this.domain = u.hostname;
    // Kratos makes it Secure unless started with --dev. We have no --dev flag: the scheme of
    // serve.public.base_url decides, so plain-http local setups still work.
    this.secure = u.protocol === 'https:';
  }

  /** The raw secret from the request's cookie, when it is well-formed. */
  secretFromCookies(cookies: Record<string, string | undefined>): Buffer | undefined {
    const v = cookies[this.cookieName];
    if (!v) return undefined;
    const buf = Buffer.from(v, 'base64');
    return buf.length === TOKEN_LEN ? buf : undefined;
  }

  newSecret(): Buffer {
    return randomBytes(TOKEN_LEN);
  }

  setCookieHeader(secret: Buffer): string {
    return serialize(this.cookieName, secret.toString('base64'), {
      httpOnly: true,
      secure: this.secure,
      sameSite: this.secure ? 'none' : 'lax',
      path: this.path,
      domain: this.domain,
      maxAge: ONE_YEAR_S,
    });
  }

  mask(secret: Buffer): string {
    const pad = randomBytes(TOKEN_LEN);
    const masked = Buffer.alloc(TOKEN_LEN);
    for (let i = 0; i < TOKEN_LEN; i++) masked[i] = (secret[i] ?? 0) ^ (pad[i] ?? 0);
    return Buffer.concat([pad, masked]).toString('base64');
  }

  /** Constant-time check of a submitted form token against the cookie secret. */
  verify(secret: Buffer | undefined, submitted: unknown): boolean {
    if (!secret || typeof submitted !== 'string' || submitted === '') return false;
    const raw = Buffer.from(submitted, 'base64');
    if (raw.length !== TOKEN_LEN * 2) return false;
    const unmasked = Buffer.alloc(TOKEN_LEN);
    for (let i = 0; i < TOKEN_LEN; i++) unmasked[i] = (raw[i] ?? 0) ^ (raw[i + TOKEN_LEN] ?? 0);
    return timingSafeEqual(unmasked, secret);
  }
}
