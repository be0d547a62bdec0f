import assert from 'node:assert/strict';
import { it } from 'node:test';
import bcrypt from 'bcryptjs';
import { PasswordHasher } from '../../../src/identity/hash/hasher.js';

const hasher = new PasswordHasher({ memoryKiB: 8192, iterations: 1, parallelism: 1, saltLength: 16, keyLength: 32 });

it('hashes with argon2id and verifies only the right password', async () => {
  const h = await hasher.hash('correct horse');
  assert.match(h, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
  assert.notEqual(h, await hasher.hash('correct horse'), 'salted');
  assert.equal(await hasher.verify('correct horse', h), true);
  assert.equal(await hasher.verify('wrong horse', h), false);
});

it('verifies bcrypt hashes imported from a real Kratos', async () => {
  const h = bcrypt.hashSync('imported pass', 4);
  for (const prefix of ['$2a$', '$2b$', '$2y$']) {
    const variant = prefix + h.slice(4);
    assert.equal(await hasher.verify('imported pass', variant), true, prefix);
    assert.equal(await hasher.verify('other pass', variant), false, prefix);
  }
});

it('refuses unknown or malformed hashes', async () => {
  assert.equal(await hasher.verify('x', ''), false);
  assert.equal(await hasher.verify('x', '$argon2id$garbage'), false);
  assert.equal(await hasher.verify('x', 'plaintext'), false);
  assert.equal(await hasher.verifyAgainstNothing('x'), false);
});
