/**
 * Kratos v0.6's password policy (selfservice/strategy/password/validator.go): minimum length
 * 6, not too similar to the identifier, and optionally not found in HaveIBeenPwned; plus a
 * maximum length, which v0.6 lacks (see MAX_PASSWORD_LENGTH).
 */
import { createHash } from 'node:crypto';
import type { KratosConfig } from '../../../driver/config/config.js';
import { MAX_IDENTIFIER_LENGTH } from '../../../identity/identity.js';

const MIN_LENGTH = 6;
/**
 * The similarity check below is quadratic (identifier length × password length), and it runs
 * before anyone is authenticated, so both inputs must be bounded before it runs: a 32 KB
 * password against an 8 KB identifier took seconds. Kratos v0.6 has no maximum;
 * later Kratos refuses passwords over 72 bytes, but only for bcrypt, which truncates there
 * (hash/hasher_bcrypt.go, message 4000033). New hashes here are argon2id, which has no such
 * limit, so the bound is a generous one for passphrases and password managers rather than
 * bcrypt's. Reported through v0.6's password-policy message (4000005) so v0.6 clients that
 * switch on message ids keep working; the reason copies the wording of v0.6's minimum.
 */
export const MAX_PASSWORD_LENGTH = 1024;
const MIN_IDENTIFIER_DISTANCE = 5;
const MAX_SUBSTRING_RATIO = 0.5;

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      prev[j] = Math.min((prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}

export function longestCommonSubstring(a: string, b: string): number {
  let best = 0;
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = b.length; j >= 1; j--) {
      row[j] = a[i - 1] === b[j - 1] ? (row[j - 1] ?? 0) + 1 : 0;
      best = Math.max(best, row[j] ?? 0);
    }
  }
  return best;
}

/** The reason a password is refused, in Kratos's words, or undefined when it is acceptable. */
export async function passwordProblem(
  identifier: string,
  password: string,
  cfg: KratosConfig['password'],
  fetchImpl: typeof fetch = fetch,
): Promise<string | undefined> {
  if (password.length < MIN_LENGTH) return `password length must be at least ${MIN_LENGTH} characters but only got ${password.length}`;
  if (password.length > MAX_PASSWORD_LENGTH)
    return `password length must be at most ${MAX_PASSWORD_LENGTH} characters but got ${password.length}`;
  // Callers validate identifiers against MAX_IDENTIFIER_LENGTH first; the slice keeps this
  // quadratic comparison bounded even for a caller that forgot, at the cost of comparing
  // only the identifier's first characters.
  const id = identifier.slice(0, MAX_IDENTIFIER_LENGTH).toLowerCase();
  const pw = password.toLowerCase();
  if (id !== '') {
    const ratio = longestCommonSubstring(id, pw) / pw.length;
    if (levenshtein(id, pw) < MIN_IDENTIFIER_DISTANCE || ratio > MAX_SUBSTRING_RATIO)
      return 'the password is too similar to the user identifier';
  }
  if (!cfg.haveibeenpwnedEnabled) return undefined;
  const sha = createHash('sha1').update(password).digest('hex').toUpperCase();
  try {
    const res = await fetchImpl(`https://api.pwnedpasswords.com/range/${sha.slice(0, 5)}`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`status ${res.status}`);
    for (const line of (await res.text()).split('\n')) {
      const [suffix, count] = line.trim().split(':');
      if (suffix === sha.slice(5) && Number(count) > cfg.maxBreaches) {
        return 'the password has been found in data breaches and must no longer be used';
      }
    }
  } catch {
    if (!cfg.ignoreNetworkErrors) return 'the password could not be checked against known data breaches';
  }
  return undefined;
}
