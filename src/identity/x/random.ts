/** Token material from the CSPRNG and the one-way forms we store instead of tokens. */
import { createHash, createHmac, randomBytes } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniform alphanumeric string: bytes >= 248 are rejected so every character is equally likely. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= 248) continue;
      out += ALNUM[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * Session tokens are stored as plain SHA-256: they carry ~190 bits of entropy, so a salt or
 * a secret adds nothing, and a secret-free hash keeps lookups valid across secret rotation.
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function hmacHex(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value).digest('hex');
}
