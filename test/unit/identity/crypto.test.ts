import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SessionCookie } from '../../../src/identity/session/cookie.js';
import { CsrfProtection } from '../../../src/identity/x/nosurf.js';
import { randomAlphanumeric } from '../../../src/identity/x/random.js';

describe('CSRF (nosurf scheme)', () => {
  const csrf = new CsrfProtection('http://127.0.0.1:4433/');

  it('names the cookie after the public URL', () => {
    assert.equal(csrf.cookieName, 'aHR0cDovLzEyNy4wLjAuMTo0NDMzLw_csrf_token');
    const header = new CsrfProtection('https://example.com/.ory/kratos/public/').setCookieHeader(Buffer.alloc(32));
    assert.match(header, /Path=\/\.ory\/kratos\/public\//);
    assert.match(header, /Domain=example\.com/);
    assert.match(header, /Secure/);
    assert.match(header, /SameSite=None/);
    assert.match(csrf.setCookieHeader(Buffer.alloc(32)), /SameSite=Lax/);
  });

  it('masks freshly each time and verifies against the cookie secret only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
        const secret = Buffer.from(a);
        const other = Buffer.from(b);
        const t1 = csrf.mask(secret);
        assert.equal(Buffer.from(t1, 'base64').length, 64);
        assert.notEqual(t1, csrf.mask(secret));
        assert.ok(csrf.verify(secret, t1));
        assert.equal(csrf.verify(other, t1), secret.equals(other));
      }),
      { numRuns: 200 },
    );
    const secret = csrf.newSecret();
    assert.equal(csrf.verify(secret, ''), false);
    assert.equal(csrf.verify(secret, secret.toString('base64')), false, 'the raw cookie value is not a valid form token');
    assert.equal(csrf.verify(undefined, csrf.mask(secret)), false);
    assert.equal(csrf.verify(secret, 42), false);
  });
});

describe('session cookie', () => {
  const cfg = { lifespanMs: 1000, cookie: { name: 'ory_kratos_session', path: '/', sameSite: 'Lax' as const, persistent: true } };

  it('round-trips, rejects tampering, and verifies with rotated secrets', () => {
    const old = new SessionCookie(cfg, ['old-secret-0123456789'], 'http://x/');
    const rotated = new SessionCookie(cfg, ['new-secret-0123456789', 'old-secret-0123456789'], 'http://x/');
    const dropped = new SessionCookie(cfg, ['new-secret-0123456789'], 'http://x/');
    const token = randomAlphanumeric(32);
    const value = old.encode(token);
    assert.equal(old.decode(value), token);
    assert.equal(rotated.decode(value), token, 'old secret still verifies after rotation');
    assert.equal(dropped.decode(value), undefined);
    assert.equal(old.decode(`${token}x.${value.split('.')[1]}`), undefined);
    assert.equal(old.decode(token), undefined);
    assert.equal(old.decode(undefined), undefined);
  });

  it('sets HttpOnly, SameSite and Secure from the public URL scheme', () => {
    const https = new SessionCookie(cfg, ['s-0123456789abcdef'], 'https://x/').setHeader(
      't',
      new Date('2030-01-02'),
      new Date('2030-01-01'),
    );
    assert.match(https, /HttpOnly/);
    assert.match(https, /Secure/);
    assert.match(https, /SameSite=Lax/);
    assert.match(https, /Expires=Wed, 02 Jan 2030 00:00:00 GMT/);
    assert.match(https, /Max-Age=86400/);
    assert.doesNotMatch(new SessionCookie(cfg, ['s-0123456789abcdef'], 'http://x/').setHeader('t', new Date(), new Date()), /Secure/);
    const session = new SessionCookie({ ...cfg, cookie: { ...cfg.cookie, persistent: false } }, ['s-0123456789abcdef'], 'http://x/');
    assert.doesNotMatch(
      session.setHeader('t', new Date('2030-01-02'), new Date('2030-01-01')),
      /Max-Age|Expires/,
      'non-persistent: a browser-session cookie',
    );
  });
});

describe('randomAlphanumeric', () => {
  it('produces the requested length from [A-Za-z0-9]', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = randomAlphanumeric(32);
      assert.match(s, /^[A-Za-z0-9]{32}$/);
      seen.add(s);
    }
    assert.equal(seen.size, 200);
  });
});
