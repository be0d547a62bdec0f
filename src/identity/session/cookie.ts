/**
 * The `ory_kratos_session` cookie: `<token>.<mac>`, the MAC an HMAC-SHA256 under the first
 * cookie secret. Every configured secret verifies, so secrets can be rotated without logging
 * everybody out. (Real Kratos uses a gorilla/securecookie blob; the cookie is opaque to clients.)
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { serialize } from 'cookie';
import type { KratosConfig } from '../driver/config/config.js';

export class SessionCookie {
  private readonly secure: boolean;

  constructor(
    private readonly cfg: KratosConfig['session'],
    private readonly secrets: string[],
    publicBaseUrl: string,
  ) {
    // Secure follows the public URL's scheme (no --dev flag here; see x/nosurf.ts).
    this.secure = new URL(publicBaseUrl).protocol === 'https:';
  }

  get name(): string {
    return this.cfg.cookie.name;
  }

  private mac(secret: string, token: string): string {
    return createHmac('sha256', secret).update(`${this.cfg.cookie.name}|${token}`).digest('base64url');
  }

  encode(token: string): string {
    return `${token}.${this.mac(this.secrets[0] ?? '', token)}`;
  }

  /** The session token inside a cookie value, or undefined if the MAC does not verify under any secret. */
  decode(value: string | undefined): string | undefined {
    if (!value) return undefined;
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const token = value.slice(0, dot);
    const mac = Buffer.from(value.slice(dot + 1));
    for (const secret of this.secrets) {
      const expected = Buffer.from(this.mac(secret, token));
      if (expected.length === mac.length && timingSafeEqual(expected, mac)) return token;
    }
    return undefined;
  }

  /** Persistent cookies (the default) live exactly as long as the session: Max-Age and Expires. */
  setHeader(token: string, expiresAt: Date, now: Date): string {
    const c = this.cfg.cookie;
    const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    return serialize(c.name, this.encode(token), {
      httpOnly: true,
      secure: this.secure,
      sameSite: c.sameSite.toLowerCase() as 'lax' | 'strict' | 'none',
      path: c.path,
      ...(c.domain ? { domain: c.domain } : {}),
      ...(c.persistent ? { expires: expiresAt, maxAge } : {}),
    });
  }

  clearHeader(): string {
    const c = this.cfg.cookie;
    return serialize(c.name, '', {
      httpOnly: true,
      secure: this.secure,
      sameSite: c.sameSite.toLowerCase() as 'lax' | 'strict' | 'none',
      path: c.path,
      ...(c.domain ? { domain: c.domain } : {}),
      expires: new Date(0),
      maxAge: -1,
    });
  }
}
