/**
 * Password hashing: argon2id for every new hash; bcrypt hashes are still verified so that
 * identities imported from a real Kratos (whose default hasher is bcrypt) can log in.
 */
import { Algorithm, hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import type { KratosConfig } from '../driver/config/config.js';

export type Argon2Params = KratosConfig['hashers']['argon2'];

export class PasswordHasher {
  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return argonHash(password, {
      algorithm: Algorithm.Argon2id,
      memoryCost: this.params.memoryKiB,
      timeCost: this.params.iterations,
      parallelism: this.params.parallelism,
      outputLen: this.params.keyLength,
      salt: randomBytes(this.params.saltLength),
    });
  }

  async verify(password: string, stored: string): Promise<boolean> {
    try {
      if (/^\$2[aby]\$/.test(stored)) return await bcrypt.compare(password, stored);
      if (stored.startsWith('$argon2')) return await argonVerify(stored, password);
    } catch {
      return false;
    }
    return false;
  }

  /**
   * Burns a comparable amount of time when the identifier is unknown, so response timing
   * does not reveal which identifiers exist.
   */
  async verifyAgainstNothing(password: string): Promise<false> {
    await this.hash(password);
    return false;
  }
}
